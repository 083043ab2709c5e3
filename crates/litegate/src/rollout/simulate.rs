//! Fleet simulation (below).
