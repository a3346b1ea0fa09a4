// PM2 process file: runs the release binary (build it first with `cargo build --release`).
// Secrets (ADMIN_API_KEY, BLAND_API_KEY) come from the environment PM2 is started with,
// or from a git-ignored callgate.toml; never put them in this file.
module.exports = {
  apps: [
    {
      name: 'callgate',
      script: './target/release/callgate',
      args: 'serve',
      interpreter: 'none',
      exec_mode: 'fork',
      instances: 1, // one process owns DATA_DIR (it is locked)
      autorestart: true,
      max_restarts: 10,
      min_uptime: '10s',
      restart_delay: 2000,
      kill_timeout: 35000, // SIGTERM, then up to SHUTDOWN_TIMEOUT_SECS (30) to drain
      max_memory_restart: '1G',
      out_file: './logs/callgate.out.log',
      error_file: './logs/callgate.err.log',
      merge_logs: true,
      time: false,
      env: {
        PORT: 3000,
        HOST: '0.0.0.0',
        DATA_DIR: './data',
        TIMEZONE: 'America/New_York',
        LOG_FORMAT: 'json',
        RUST_LOG: 'info',
      },
    },
  ],
};
