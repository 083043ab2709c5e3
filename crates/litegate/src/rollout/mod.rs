//! Rollout control.
