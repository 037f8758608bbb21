# Generates packages/flags-core/test/stats/fixtures/r-fixtures.json: reference values from R's stats
# package for @rupaya/flags-core's statistics. CI has no R, so the JSON output is committed.
#
#   Rscript packages/flags-core/scripts/r/fixtures.R > packages/flags-core/test/stats/fixtures/r-fixtures.json
#
# Base R only (no jsonlite). Numbers are written with 17 significant digits; ±Inf as the strings
# "Inf" / "-Inf". Random samples come from set.seed() and are written out, so the tests see the
# same inputs as R did.

num <- function(x) {
  if (length(x) != 1) stop("num() takes one value")
  if (is.na(x)) return("null")
  if (is.infinite(x)) return(if (x > 0) "\"Inf\"" else "\"-Inf\"")
  sprintf("%.17g", x)
}
vec <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ","), "]")
str <- function(s) paste0("\"", s, "\"")
bool <- function(b) if (b) "true" else "false"
obj <- function(...) {
  fields <- list(...)
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}
arr <- function(items) paste0("[\n  ", paste(items, collapse = ",\n  "), "\n]")

out <- list()

# --- normal distribution: log tails on a grid reaching 1e-300 and beyond -------------------------
xs <- c(-1e3, -100, -40, -38.5, -37.5, -30, -20, -10, -8, -5, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, -0.1,
        -1e-8, 0, 1e-8, 0.1, 0.3, 0.5, 1, 1.5, 1.96, 2, 2.4, 2.6, 3, 4, 5, 6, 8, 10, 15, 20, 30, 37, 38.5, 100)
out$pnorm <- arr(vapply(xs, function(x) obj(
  x = num(x), logCdf = num(pnorm(x, log.p = TRUE)), logSf = num(pnorm(x, lower.tail = FALSE, log.p = TRUE)),
  cdf = num(pnorm(x)), sf = num(pnorm(x, lower.tail = FALSE))), ""))

ps <- c(1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 0.001, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.45,
        0.5, 0.55, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 0.999999)
qn <- c()
for (p in ps) {
  qn <- c(qn, obj(p = num(p), lowerTail = bool(TRUE), logP = bool(FALSE), q = num(qnorm(p))))
  qn <- c(qn, obj(p = num(p), lowerTail = bool(FALSE), logP = bool(FALSE), q = num(qnorm(p, lower.tail = FALSE))))
}
for (lp in c(-1e4, -2000, -700, -50, -1, -0.1, -1e-10, -1e-30)) {
  qn <- c(qn, obj(p = num(lp), lowerTail = bool(TRUE), logP = bool(TRUE), q = num(qnorm(lp, log.p = TRUE))))
  qn <- c(qn, obj(p = num(lp), lowerTail = bool(FALSE), logP = bool(TRUE),
                  q = num(qnorm(lp, lower.tail = FALSE, log.p = TRUE))))
}
out$qnorm <- arr(qn)

# --- Student t: pt exact for df <= 4e5 (above, R switches to a normal approximation) ------------
ts <- c(-1e150, -1e20, -1e6, -500, -100, -40, -20, -10, -5, -3, -2, -1, -0.5, -1e-3, 0, 1e-6, 0.25, 0.5,
        1, 1.5, 2, 2.5, 3, 4, 5, 8, 10, 20, 40, 50, 100, 200, 1e3, 1e5, 1e10, 1e100)
dfs <- c(0.5, 1, 2, 3, 4.5, 7.3, 10, 17.776, 30, 100, 1000, 1e5)
pts <- c()
for (df in dfs) for (t in ts) {
  pts <- c(pts, obj(t = num(t), df = num(df), logCdf = num(pt(t, df, log.p = TRUE)),
                    logSf = num(pt(t, df, lower.tail = FALSE, log.p = TRUE))))
}
out$pt <- arr(pts)

qts <- c()
for (df in c(1, 2, 3, 5.5, 10, 29.5, 100, 1e4)) {
  for (p in c(1e-300, 1e-100, 1e-20, 1e-8, 1e-3, 0.025, 0.05, 0.2, 0.4, 0.5, 0.6, 0.9, 0.95, 0.975, 0.995)) {
    qts <- c(qts, obj(p = num(p), df = num(df), lowerTail = bool(TRUE), logP = bool(FALSE), q = num(qt(p, df))))
    qts <- c(qts, obj(p = num(p), df = num(df), lowerTail = bool(FALSE), logP = bool(FALSE),
                      q = num(qt(p, df, lower.tail = FALSE))))
  }
  for (lp in c(-700, -50, -3, -0.01)) {
    qts <- c(qts, obj(p = num(lp), df = num(df), lowerTail = bool(TRUE), logP = bool(TRUE),
                      q = num(qt(lp, df, log.p = TRUE))))
  }
}
out$qt <- arr(qts)

# --- chi-square distribution -------------------------------------------------------------------
pcs <- c()
for (df in c(1, 2, 3, 4, 7, 10, 30, 100, 1000)) {
  for (x in c(1e-10, 0.01, 0.5, 1, 2, 3.84, 5, 10, 20, 50, 100, 300, 1000, 1500, 3000)) {
    pcs <- c(pcs, obj(x = num(x), df = num(df), logCdf = num(pchisq(x, df, log.p = TRUE)),
                      logSf = num(pchisq(x, df, lower.tail = FALSE, log.p = TRUE))))
  }
}
out$pchisq <- arr(pcs)

# --- t.test, both variance assumptions, all alternatives, several confidence levels -------------
set.seed(20261125)
samples <- list(
  list(a = rnorm(12, 10, 2), b = rnorm(15, 11, 4)),
  list(a = rnorm(40, 0, 1), b = rnorm(8, 0.7, 0.3)),
  list(a = rexp(200, 1 / 3), b = rexp(180, 1 / 3.4)),
  list(a = c(0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0),
       b = c(1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4)),  # R's `sleep` data
  list(a = rnorm(5, 1e6, 1e-2), b = rnorm(6, 1e6 + 0.05, 3e-2)),
  list(a = rnorm(30, 0, 1), b = rnorm(30, 9, 1))  # far tail: p-value ~ 1e-40
)
tts <- c()
for (s in samples) for (ve in c(FALSE, TRUE)) for (alt in c("two.sided", "less", "greater")) {
  for (cl in c(0.9, 0.95, 0.99)) for (mu in c(0, 0.5)) {
    r <- t.test(s$a, s$b, alternative = alt, mu = mu, conf.level = cl, var.equal = ve)
    tts <- c(tts, obj(a = vec(s$a), b = vec(s$b), varEqual = bool(ve), alternative = str(alt),
                      confidenceLevel = num(cl), mu = num(mu), t = num(unname(r$statistic)),
                      df = num(unname(r$parameter)), pValue = num(r$p.value),
                      ci = vec(as.numeric(r$conf.int)), estimates = vec(unname(r$estimate)),
                      stderr = num(r$stderr)))
  }
}
out$tTest <- arr(tts)

# --- prop.test(correct = FALSE), two groups ---------------------------------------------------
props <- list(c(15, 25, 50, 50), c(83, 90, 86, 93), c(1000, 1200, 10000, 10000), c(0, 3, 40, 50),
              c(5, 60, 500, 500), c(400, 30, 500, 450), c(1, 0, 10, 12), c(3000, 3610, 30000, 30000))
pps <- c()
for (pr in props) for (alt in c("two.sided", "less", "greater")) for (cl in c(0.9, 0.95, 0.99)) {
  r <- suppressWarnings(prop.test(pr[1:2], pr[3:4], alternative = alt, conf.level = cl, correct = FALSE))
  pps <- c(pps, obj(successes = vec(pr[1:2]), trials = vec(pr[3:4]), alternative = str(alt),
                    confidenceLevel = num(cl), statistic = num(unname(r$statistic)), pValue = num(r$p.value),
                    ci = vec(as.numeric(r$conf.int)), estimates = vec(unname(r$estimate))))
}
out$propTest <- arr(pps)

# --- chisq.test: goodness of fit (rescaled weights) and independence ----------------------------
gofs <- list(
  list(x = c(20, 15, 25), p = NULL),
  list(x = c(89, 37, 30, 28, 2), p = c(40, 20, 20, 15, 5)),
  list(x = c(5200, 4800), p = c(1, 1)),
  list(x = c(10400, 9600), p = c(50000, 50000)),
  list(x = c(2500, 2480, 2600, 2420), p = c(0.25, 0.25, 0.25, 0.25)),
  list(x = c(700, 300), p = c(0.1, 0.9)),
  list(x = c(30000, 10000, 10000), p = c(2, 1, 1)),
  list(x = c(120000, 80000), p = c(1, 1))  # SRM far in the tail
)
gfs <- c()
for (g in gofs) {
  r <- if (is.null(g$p)) chisq.test(g$x) else chisq.test(g$x, p = g$p, rescale.p = TRUE)
  gfs <- c(gfs, obj(observed = vec(g$x), expected = if (is.null(g$p)) "null" else vec(g$p),
                    statistic = num(unname(r$statistic)), df = num(unname(r$parameter)), pValue = num(r$p.value),
                    logPValue = num(pchisq(unname(r$statistic), unname(r$parameter), lower.tail = FALSE, log.p = TRUE))))
}
out$chisqGof <- arr(gfs)

tables <- list(
  rbind(c(762, 327, 468), c(484, 239, 477)),
  rbind(c(83, 90, 129, 70), c(3, 3, 7, 12)),
  rbind(c(12, 5), c(7, 9)),
  rbind(c(1000, 9000), c(1200, 8800)),
  rbind(c(10, 20, 30), c(15, 25, 35), c(40, 10, 5)),
  rbind(c(5000, 100), c(100, 5000))
)
ins <- c()
for (tb in tables) for (corr in c(FALSE, TRUE)) {
  r <- suppressWarnings(chisq.test(tb, correct = corr))
  rows <- paste0("[", paste(apply(tb, 1, vec), collapse = ","), "]")
  ins <- c(ins, obj(table = rows, correct = bool(corr), statistic = num(unname(r$statistic)),
                    df = num(unname(r$parameter)), pValue = num(r$p.value),
                    logPValue = num(pchisq(unname(r$statistic), unname(r$parameter), lower.tail = FALSE, log.p = TRUE))))
}
out$chisqIndependence <- arr(ins)

# --- p.adjust(method = "holm") -----------------------------------------------------------------
pvs <- list(c(0.01, 0.02, 0.03, 0.04, 0.05), c(0.04, 0.001, 0.3, 0.04), c(0.5), c(1e-10, 0.9, 0.02),
            c(0.2, 0.2, 0.2), c(0.01, 0.6, 0.011, 0.7, 0.02, 1e-300))
out$holm <- arr(vapply(pvs, function(p) obj(p = vec(p), adjusted = vec(p.adjust(p, "holm"))), ""))

# --- power.prop.test / power.t.test solved for n (tol = 1e-12 for the exact root; R's default
# tol = eps^0.25 also recorded) and the power at a given n ------------------------------------
pps2 <- c()
for (cs in list(c(0.5, 0.75, 0.9), c(0.1, 0.12, 0.8), c(0.1, 0.11, 0.8), c(0.02, 0.025, 0.9), c(0.3, 0.2, 0.8),
                c(0.6, 0.65, 0.95))) {
  for (alt in c("two.sided", "one.sided")) for (sl in c(0.05, 0.01)) for (st in c(FALSE, TRUE)) {
    r <- power.prop.test(p1 = cs[1], p2 = cs[2], power = cs[3], sig.level = sl, alternative = alt,
                         strict = st, tol = 1e-12)
    rd <- power.prop.test(p1 = cs[1], p2 = cs[2], power = cs[3], sig.level = sl, alternative = alt, strict = st)
    pw <- power.prop.test(n = 500, p1 = cs[1], p2 = cs[2], sig.level = sl, alternative = alt, strict = st)
    pps2 <- c(pps2, obj(p1 = num(cs[1]), p2 = num(cs[2]), power = num(cs[3]), alpha = num(sl),
                        alternative = str(alt), strict = bool(st), n = num(r$n), nDefaultTol = num(rd$n),
                        powerAt500 = num(pw$power)))
  }
}
out$powerProp <- arr(pps2)

pts2 <- c()
for (cs in list(c(1, 1, 0.9), c(0.5, 1, 0.8), c(0.2, 1, 0.8), c(2, 3, 0.95), c(0.05, 1, 0.8), c(3, 1, 0.8))) {
  for (type in c("two.sample", "one.sample", "paired")) for (alt in c("two.sided", "one.sided")) {
    for (st in c(FALSE, TRUE)) {
      r <- power.t.test(delta = cs[1], sd = cs[2], power = cs[3], type = type, alternative = alt, strict = st,
                        tol = 1e-12)
      rd <- power.t.test(delta = cs[1], sd = cs[2], power = cs[3], type = type, alternative = alt, strict = st)
      pw <- power.t.test(n = 20, delta = cs[1], sd = cs[2], type = type, alternative = alt, strict = st)
      pts2 <- c(pts2, obj(delta = num(cs[1]), sd = num(cs[2]), power = num(cs[3]), alpha = num(0.05),
                          type = str(type), alternative = str(alt), strict = bool(st), n = num(r$n),
                          nDefaultTol = num(rd$n), powerAt20 = num(pw$power)))
    }
  }
}
out$powerT <- arr(pts2)

# --- noncentral t CDF (the power of t-tests). Only values >= 1e-9: below, both R's pnt and ours
# compute 1 - (something near 1) (e.g. R's pt(-3, 3, 6) = 1.18494e-12 against the true 1.08151e-12,
# checked by numerical integration with mpmath), and R may or may not warn. Power needs neither. --
nct <- c()
for (df in c(3, 10, 38, 100)) for (ncp in c(-2, 0.5, 2.8, 6)) for (q in c(-3, -0.5, 0.7, 2.02, 4, 9)) {
  value <- tryCatch(pt(q, df, ncp), warning = function(w) NA)
  if (!is.na(value) && value >= 1e-9) nct <- c(nct, obj(q = num(q), df = num(df), ncp = num(ncp), cdf = num(value)))
}
out$noncentralT <- arr(nct)

# --- summaries (mean and var) ------------------------------------------------------------------
sums <- list(c(1, 2, 3, 4), c(1e9 + 1, 1e9 + 2, 1e9 + 3), rnorm(50, -3, 7), c(0.5, 0.25))
out$summarize <- arr(vapply(sums, function(v) obj(values = vec(v), mean = num(mean(v)), variance = num(var(v))), ""))

# --- relative lift, first-order delta method ---------------------------------------------------
lifts <- list(c(0.12, 0.1056, 10000, 0.10, 0.09, 10000), c(5.3, 20.1, 800, 5.0, 18.4, 820), c(-2, 4, 50, 1, 1, 60))
out$lift <- arr(vapply(lifts, function(l) {
  mt <- l[1]; vt <- l[2]; nt <- l[3]; mc <- l[4]; vc <- l[5]; nc <- l[6]
  lift <- mt / mc - 1
  se <- sqrt(vt / (nt * mc^2) + mt^2 * vc / (nc * mc^4))
  z <- qnorm(0.975)
  obj(treatment = obj(mean = num(mt), variance = num(vt), n = num(nt)),
      control = obj(mean = num(mc), variance = num(vc), n = num(nc)),
      lift = num(lift), stderr = num(se), ci = vec(c(lift - z * se, lift + z * se)))
}, ""))

cat("{\n\"generatedBy\": ", str(paste("packages/flags-core/scripts/r/fixtures.R with", R.version.string)), ",\n", sep = "")
cat(paste(sprintf("\"%s\": %s", names(out), unlist(out)), collapse = ",\n"))
cat("\n}\n")
