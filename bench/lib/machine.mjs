import os from 'node:os';

export function machineInfo() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    // The machine may be shared: a high load average means the numbers are noisier than usual.
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
