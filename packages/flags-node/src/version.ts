export const SDK_NAME = '@rupaya/flags-node';
export const SDK_VERSION = '0.1.0';
