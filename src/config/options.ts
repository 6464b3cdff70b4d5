/**
 * The OPTIONS table: every option shared by `serve` and `load`, with its flag, `CALLGATE_*` variable,
 * config-file key, type, default, range and one-line doc. config.ts parses argv/env/file against it;
 * scripts/gen-config-doc.ts writes docs/configuration.md from it (a test fails when that file is stale),
 * so the documentation cannot drift from what is parsed. Data only: no parsing here.
 */
import { DEFAULT_MAX_PENDING_BYTES } from '../audit/writer.js';
import { DEFAULT_READ_LIMITS } from '../refresh/read.js';
import { DEFAULT_SETTLE_MS } from '../refresh/source.js';
import { DEFAULT_LOAD_PACING } from '../refresh/pacing.js';
import { MAX_CONFIRM_TIMEOUT_MS } from '../redis/confirm.js';
import { DEFAULT_ALERT_RULES } from '../supervision/stats-service.js';

export type OptionType = 'string' | 'int' | 'number' | 'boolean';

export interface OptionDef {
  /** camelCase: the config-file key and the key of the resolved options. */
  readonly key: string;
  /** kebab-case, without the leading `--`. */
  readonly flag: string;
  readonly env: string;
  readonly type: OptionType;
  /** null: unset unless given (the doc says what that means). */
  readonly default: string | number | boolean | null;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
}

/** Options shared by `serve` and `load`; docs/configuration.md is generated from it (npm run docs). */
export const OPTIONS: readonly OptionDef[] = [
  { key: 'host', flag: 'host', env: 'CALLGATE_HOST', type: 'string', default: '127.0.0.1', doc: 'Address to listen on (loopback by default).' },
  { key: 'port', flag: 'port', env: 'CALLGATE_PORT', type: 'int', default: 8080, min: 0, max: 65535, doc: 'TCP port for WebSocket and HTTP (0 = any free port).' },
  { key: 'falsePositiveRate', flag: 'false-positive-rate', env: 'CALLGATE_FALSE_POSITIVE_RATE', type: 'number', default: 0.001, min: 1e-9, max: 0.5, doc: 'Bloom filter false-positive rate per list (a false positive costs one exact lookup, never a wrong verdict).' },
  { key: 'maxPayloadBytes', flag: 'max-payload-bytes', env: 'CALLGATE_MAX_PAYLOAD_BYTES', type: 'int', default: 1024 * 1024, min: 1024, doc: 'Largest accepted frame; larger closes the socket with 1009.' },
  { key: 'maxInFlight', flag: 'max-in-flight', env: 'CALLGATE_MAX_IN_FLIGHT', type: 'int', default: 1024, min: 1, doc: 'Requests in flight per connection before callgate stops reading from it (backpressure).' },
  { key: 'maxInFlightBytes', flag: 'max-in-flight-bytes', env: 'CALLGATE_MAX_IN_FLIGHT_BYTES', type: 'int', default: 4 * 1024 * 1024, min: 1024, doc: 'Bytes of request frames in flight per connection before callgate stops reading from it (backpressure).' },
  { key: 'maxConnections', flag: 'max-connections', env: 'CALLGATE_MAX_CONNECTIONS', type: 'int', default: 256, min: 1, doc: 'Open check sockets at most (and as many /stats sockets); further upgrades get a 503.' },
  { key: 'maxSockets', flag: 'max-sockets', env: 'CALLGATE_MAX_SOCKETS', type: 'int', default: 1024, min: 1, doc: 'Open TCP connections on the port at most, of every kind (check and /stats sockets, HTTP keep-alive, requests under way); past it a new connection is closed at once, so idle connections cannot grow memory without bound. Never below 2 × --max-connections + 64 (that floor is used instead).' },
  { key: 'pingIntervalMs', flag: 'ping-interval-ms', env: 'CALLGATE_PING_INTERVAL_MS', type: 'int', default: 30_000, min: 0, doc: 'Idle WebSocket ping period; a socket that answers nothing (no pong, no frame) for a whole period after a ping is dropped (0 = never ping).' },
  { key: 'allowedHosts', flag: 'allowed-hosts', env: 'CALLGATE_ALLOWED_HOSTS', type: 'string', default: null, doc: 'Comma-separated host names accepted in the Host header of HTTP routes besides loopback names, IP addresses, the listen host and this machine\'s name (DNS-rebinding guard).' },
  { key: 'maxBatchSize', flag: 'max-batch-size', env: 'CALLGATE_MAX_BATCH_SIZE', type: 'int', default: 10_000, min: 1, max: 100_000, doc: 'Most numbers in one batch request.' },
  { key: 'batchSliceSize', flag: 'batch-slice-size', env: 'CALLGATE_BATCH_SLICE_SIZE', type: 'int', default: 256, min: 1, doc: 'Numbers checked between yields to the event loop, so a big batch never stalls other connections.' },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace-ms', env: 'CALLGATE_SHUTDOWN_GRACE_MS', type: 'int', default: 10_000, min: 0, doc: 'On SIGTERM, how long to wait for in-flight replies before closing.' },
  { key: 'logLevel', flag: 'log-level', env: 'CALLGATE_LOG_LEVEL', type: 'string', default: 'info', doc: 'pino level: fatal, error, warn, info, debug, trace, silent.' },
  { key: 'instanceId', flag: 'instance-id', env: 'CALLGATE_INSTANCE_ID', type: 'string', default: null, doc: 'This process\'s id in logs, heartbeats and fleet figures (default: host-pid-random).' },
  { key: 'redisUrl', flag: 'redis', env: 'CALLGATE_REDIS_URL', type: 'string', default: null, doc: 'Redis mode: redis:// or rediss:// URL (password in the URL). Unset = embedded mode.' },
  { key: 'redisPrefix', flag: 'redis-prefix', env: 'CALLGATE_REDIS_PREFIX', type: 'string', default: 'callgate:', doc: 'Key namespace in Redis.' },
  { key: 'redisConfirmTimeoutMs', flag: 'redis-confirm-timeout-ms', env: 'CALLGATE_REDIS_CONFIRM_TIMEOUT_MS', type: 'int', default: 50, min: 1, max: MAX_CONFIRM_TIMEOUT_MS, doc: 'A Bloom hit not confirmed in Redis within this time is blocked as `unconfirmed`.' },
  { key: 'redisAllowEviction', flag: 'redis-allow-eviction', env: 'CALLGATE_REDIS_ALLOW_EVICTION', type: 'boolean', default: false, doc: 'Start even when Redis\'s maxmemory-policy can evict callgate\'s keys (not recommended); checks that need Redis still block once an eviction is counted.' },
  { key: 'redisSentinels', flag: 'redis-sentinels', env: 'CALLGATE_REDIS_SENTINELS', type: 'string', default: null, doc: 'Sentinel mode: comma-separated host:port list; the master is found through them. --redis is then optional and supplies password/TLS/db only.' },
  { key: 'redisSentinelName', flag: 'redis-sentinel-name', env: 'CALLGATE_REDIS_SENTINEL_NAME', type: 'string', default: 'mymaster', doc: 'Sentinel master group name.' },
  { key: 'redisWaitReplicas', flag: 'redis-wait-replicas', env: 'CALLGATE_REDIS_WAIT_REPLICAS', type: 'int', default: null, min: 0, max: 16, doc: 'Replicas that must hold an opt-out, revocation, refusal or counted attempt before it is acknowledged (WAIT); 0 = do not wait. Unset: 1 with --redis-sentinels (a fail-over then loses no acknowledged write), 0 without (a lone Redis has no replica to wait for). See docs/redis-mode.md.' },
  { key: 'redisWaitTimeoutMs', flag: 'redis-wait-timeout-ms', env: 'CALLGATE_REDIS_WAIT_TIMEOUT_MS', type: 'int', default: 50, min: 1, max: 10_000, doc: 'How long a write waits for its replicas; past it the caller is told "not replicated", the write is kept blocked by this sidecar\'s copy and re-published until a replica holds it. 50 ms: a LAN replica acknowledges in about 1 ms, and a dial check must not wait much past its confirmation budget.' },
  { key: 'refreshCron', flag: 'refresh-cron', env: 'CALLGATE_REFRESH_CRON', type: 'string', default: '30 2 * * *', doc: 'Default refresh schedule of lists with a source (cron, 5 fields).' },
  { key: 'refreshTimezone', flag: 'refresh-timezone', env: 'CALLGATE_REFRESH_TIMEZONE', type: 'string', default: 'Europe/Paris', doc: 'Time zone of the refresh schedule.' },
  { key: 'maxAgeDays', flag: 'max-age-days', env: 'CALLGATE_MAX_AGE_DAYS', type: 'number', default: 30, min: 0.001, doc: 'Default maximum age of a list, from its source\'s own date; past it checks answer stale_list (30: the French re-scrub period; 31 for the US registry).' },
  { key: 'ageWarnDays', flag: 'age-warn-days', env: 'CALLGATE_AGE_WARN_DAYS', type: 'number', default: 5, min: 0, doc: 'Days before a list goes stale that an ageing alert is raised.' },
  { key: 'loadRetryMinMs', flag: 'load-retry-min-ms', env: 'CALLGATE_LOAD_RETRY_MIN_MS', type: 'int', default: 30_000, min: 1, doc: 'A list that is not loaded (refused or failed at start-up) is retried after this, the delay doubling each time.' },
  { key: 'loadRetryMaxMs', flag: 'load-retry-max-ms', env: 'CALLGATE_LOAD_RETRY_MAX_MS', type: 'int', default: 900_000, min: 1, doc: 'Longest delay between two retries of a list that is not loaded.' },
  { key: 'maxShrinkRatio', flag: 'max-shrink-ratio', env: 'CALLGATE_MAX_SHRINK_RATIO', type: 'number', default: 0.2, min: 0, max: 1, doc: 'A refresh whose list shrinks by more than this is refused (unless forced).' },
  { key: 'maxBadLineRatio', flag: 'max-bad-line-ratio', env: 'CALLGATE_MAX_BAD_LINE_RATIO', type: 'number', default: 0.01, min: 0, max: 1, doc: 'A refresh with more bad lines than this ratio is refused (unless forced).' },
  { key: 'listSettleMs', flag: 'list-settle-ms', env: 'CALLGATE_LIST_SETTLE_MS', type: 'int', default: DEFAULT_SETTLE_MS, min: 0, doc: 'A list file is read only once it has not changed (size, mtime, inode) for this long; one being written is never installed.' },
  { key: 'maxListBytes', flag: 'max-list-bytes', env: 'CALLGATE_MAX_LIST_BYTES', type: 'int', default: DEFAULT_READ_LIMITS.maxListBytes, min: 1, doc: 'A list source larger than this as text (after gunzip) is refused, CALLGATE_ERR_LIST_TOO_LARGE (a gzip bomb stops there).' },
  { key: 'maxListLineChars', flag: 'max-list-line-chars', env: 'CALLGATE_MAX_LIST_LINE_CHARS', type: 'int', default: DEFAULT_READ_LIMITS.maxLineChars, min: 64, doc: 'A list source with a longer line (in characters) is refused, CALLGATE_ERR_LIST_LINE_TOO_LONG (checked as the line grows: a 1 GB line is never held).' },
  { key: 'refreshPacing', flag: 'refresh-pacing', env: 'CALLGATE_REFRESH_PACING', type: 'boolean', default: DEFAULT_LOAD_PACING.enabled, doc: 'A list load paces itself by the latency it causes to checks (Redis writes: a probe on the confirmations\' connection while they run; the build worker too with --refresh-pacing-worker): smaller chunks and pauses while checks are answered, full speed when there are none. Never changes what is loaded. See docs/lists-and-refresh.md.' },
  { key: 'refreshPacingWorker', flag: 'refresh-pacing-worker', env: 'CALLGATE_REFRESH_PACING_WORKER', type: 'boolean', default: DEFAULT_LOAD_PACING.worker, doc: 'With --refresh-pacing, the build worker (both modes) paces itself too, by the lateness of the main thread\'s timers. Off by default: measured on 2 busy cores it did not lower the checks\' p99 during an embedded load, only lengthened it (docs/performance.md).' },
  { key: 'refreshPacingRatio', flag: 'refresh-pacing-ratio', env: 'CALLGATE_REFRESH_PACING_RATIO', type: 'number', default: DEFAULT_LOAD_PACING.targetRatio, min: 1, max: 100, doc: 'Paced loads keep the p99 of the probed latency under this multiple of its p99 measured before the load.' },
  { key: 'refreshPacingTargetUs', flag: 'refresh-pacing-target-us', env: 'CALLGATE_REFRESH_PACING_TARGET_US', type: 'int', default: null, min: 1, doc: 'An absolute p99 target (µs) for paced loads instead of the ratio.' },
  { key: 'refreshPacingMaxPauseMs', flag: 'refresh-pacing-max-pause-ms', env: 'CALLGATE_REFRESH_PACING_MAX_PAUSE_MS', type: 'int', default: DEFAULT_LOAD_PACING.maxPauseMs, min: 0, max: 1000, doc: 'The longest pause a paced load makes between two of its smallest chunks: its floor rate, so a load under traffic that never drops still finishes.' },
  { key: 'refreshPacingMaxSlowdown', flag: 'refresh-pacing-max-slowdown', env: 'CALLGATE_REFRESH_PACING_MAX_SLOWDOWN', type: 'number', default: DEFAULT_LOAD_PACING.maxSlowdown, min: 1, max: 100, doc: 'What pacing costs a load (its pauses, and in Redis mode the extra round trips of smaller chunks) stays under (this - 1) × the time it spends working, so it takes about this many times as long at most; with that spent, the latency target gives way to the deadline (full speed).' },
  { key: 'adminToken', flag: 'admin-token', env: 'CALLGATE_ADMIN_TOKEN', type: 'string', default: null, doc: 'Bearer token for admin operations (refresh, list add/remove); unset = loopback clients only.' },
  { key: 'blockList', flag: 'block-list', env: 'CALLGATE_BLOCK_LIST', type: 'string', default: null, doc: 'Deny-list that `callgate block` / `unblock` change (default: the first deny-list without a source).' },
  { key: 'statsToken', flag: 'stats-token', env: 'CALLGATE_STATS_TOKEN', type: 'string', default: null, doc: 'Read-only token for /api/stats, /stats and /dashboard (`?token=` or Bearer); unset = open to whoever reaches the port.' },
  { key: 'checkToken', flag: 'check-token', env: 'CALLGATE_CHECK_TOKEN', type: 'string', default: null, doc: 'Token the check doors require when set: the check socket and HTTP /v1/check and /v1/outcome (`Authorization: Bearer …` or `?token=`); unset = open to whoever reaches the port, like the socket always was.' },
  { key: 'optoutToken', flag: 'optout-token', env: 'CALLGATE_OPTOUT_TOKEN', type: 'string', default: null, doc: 'Token of POST /v1/optout, which can only add a number to the block list (an agent\'s "do not call me" button); the admin token is accepted too; with neither set, loopback clients only.' },
  { key: 'stats', flag: 'stats', env: 'CALLGATE_STATS', type: 'boolean', default: true, doc: 'Count checks for /metrics, the stats view and fleet figures (off only to measure its cost).' },
  { key: 'defaultPolicy', flag: 'default-policy', env: 'CALLGATE_DEFAULT_POLICY', type: 'string', default: 'deny-lists', doc: 'Policy of checks without a campaign (or with an unconfigured one): deny-lists, fr-optout, fr-optin or a configured policy.' },
  { key: 'unknownCampaign', flag: 'unknown-campaign', env: 'CALLGATE_UNKNOWN_CAMPAIGN', type: 'string', default: 'block', doc: 'A check naming a campaign that is not configured, when some are: "block" answers block / unknown_campaign; "default" uses defaultPolicy (the old behaviour).' },
  { key: 'foreignTimezone', flag: 'foreign-timezone', env: 'CALLGATE_FOREIGN_TIMEZONE', type: 'string', default: 'Europe/Paris', doc: 'Time zone used for the calling hours of numbers outside France.' },
  { key: 'auditDir', flag: 'audit-dir', env: 'CALLGATE_AUDIT_DIR', type: 'string', default: 'callgate-audit', doc: 'Folder of the audit trail (JSON lines, rotated daily, gzipped); "off" disables it.' },
  { key: 'auditRetentionDays', flag: 'audit-retention-days', env: 'CALLGATE_AUDIT_RETENTION_DAYS', type: 'int', default: 1095, min: 1, doc: 'Audit files older than this are deleted (default 3 years).' },
  { key: 'auditMaxPendingBytes', flag: 'audit-max-pending-bytes', env: 'CALLGATE_AUDIT_MAX_PENDING_BYTES', type: 'int', default: DEFAULT_MAX_PENDING_BYTES, min: 64 * 1024, doc: 'Bound of the audit records waiting for the disk; records past it are lost (counted, alerted) and allows that need their record block as audit_unavailable.' },
  { key: 'unconfirmedAlertRatio', flag: 'unconfirmed-alert-ratio', env: 'CALLGATE_UNCONFIRMED_ALERT_RATIO', type: 'number', default: DEFAULT_ALERT_RULES.unconfirmedRatio, min: 0, max: 1, doc: 'An unconfirmed_rate alert is raised when more than this share of a list\'s Redis confirmations (or of the fleet\'s checks) answered unconfirmed over the window.' },
  { key: 'unconfirmedAlertWindowMs', flag: 'unconfirmed-alert-window-ms', env: 'CALLGATE_UNCONFIRMED_ALERT_WINDOW_MS', type: 'int', default: DEFAULT_ALERT_RULES.unconfirmedWindowMs, min: 60_000, max: 86_400_000, doc: 'Window of the unconfirmed_rate alert.' },
  { key: 'unconfirmedAlertMinCount', flag: 'unconfirmed-alert-min-count', env: 'CALLGATE_UNCONFIRMED_ALERT_MIN_COUNT', type: 'int', default: DEFAULT_ALERT_RULES.unconfirmedMinCount, min: 1, doc: 'Unconfirmed answers needed in the window before the unconfirmed_rate alert is raised (one timeout at low traffic is no trend).' },
  { key: 'journalPath', flag: 'journal', env: 'CALLGATE_JOURNAL', type: 'string', default: 'callgate-journal.jsonl', doc: 'File where intraday list changes are journaled so they survive a restart (embedded mode), or where a Redis-mode sidecar keeps its copy of the fleet\'s changes, refusals and attempts so they survive a Redis that loses its data. One per process.' },
  { key: 'clockDriftAlertMs', flag: 'clock-drift-alert-ms', env: 'CALLGATE_CLOCK_DRIFT_ALERT_MS', type: 'int', default: 2000, min: 0, doc: 'Redis mode: alert (clock_drift) when this host\'s clock and Redis\'s TIME differ by more (ms), checked every 30 s; 0 = off.' },
];
