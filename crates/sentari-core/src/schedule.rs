//! Cron-like schedules (being written).
