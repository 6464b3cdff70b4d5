/**
 * Files that hold phone numbers (the audit trail, the intraday journal) are readable by their owner
 * only: 0600 files in 0700 folders, whatever the umask of the host.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
