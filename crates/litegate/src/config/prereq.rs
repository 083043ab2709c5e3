//! Load-time bounds on the prerequisite graph: depth and the number of flags
//! one flag's prerequisites reach. Together with the per-flag fan-out limit
//! (`Limits::max_prerequisites`) they bound what one lookup evaluates, which
//! the evaluator memoises per lookup (`eval::prereq`).

use super::model::FlagEntry;
use super::{Limits, Problem, ProblemKind};
use crate::eval::{MAX_PREREQUISITE_DEPTH, MAX_PREREQUISITE_FLAGS};

/// At most this many graph problems are reported for one document; the rest
/// follow from the same chains.
const MAX_REPORTED: usize = 20;

fn prerequisites(flags: &[FlagEntry], i: usize) -> impl Iterator<Item = usize> + '_ {
    let list = match &flags[i] {
        FlagEntry::Ready(f) => &f.prerequisites[..],
        FlagEntry::Malformed { .. } => &[],
    };
    list.iter().map(|p| p.flag).filter(|&p| p < flags.len())
}

fn key(flags: &[FlagEntry], i: usize) -> &str {
    match &flags[i] {
        FlagEntry::Ready(f) => &f.key,
        FlagEntry::Malformed { key, .. } => key,
    }
}

/// Flags in an order where every flag comes after its prerequisites. The
/// graph has been checked for cycles already; were one left, its flags would
/// simply come out in some order.
fn dependencies_first(flags: &[FlagEntry]) -> Vec<usize> {
    let mut order = Vec::with_capacity(flags.len());
    let mut seen = vec![false; flags.len()];
    for start in 0..flags.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        // Iterative post-order: (flag, next prerequisite position).
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(p) = prerequisites(flags, node).nth(*next) {
                *next += 1;
                if !seen[p] {
                    seen[p] = true;
                    stack.push((p, 0));
                }
            } else {
                order.push(node);
                stack.pop();
            }
        }
    }
    order
}

/// The exact number of distinct flags reachable from `start` through
/// prerequisites (for the problem's figure; only run on flags already found
/// over the limit).
fn reach(flags: &[FlagEntry], start: usize) -> usize {
    let mut seen = vec![false; flags.len()];
    let mut todo: Vec<usize> = prerequisites(flags, start).collect();
    let mut n = 0;
    while let Some(f) = todo.pop() {
        if !std::mem::replace(&mut seen[f], true) {
            n += 1;
            todo.extend(prerequisites(flags, f));
        }
    }
    n
}

/// Problems with the prerequisite graph of an acyclic set of flags: chains
/// longer than `limits.max_prerequisite_depth` and flags whose prerequisites
/// reach more than `limits.max_prerequisite_flags` flags, each reported at
/// `flags.<key>.prerequisites`. Linear in the graph's size (each flag's
/// reach set is kept only up to one past the limit).
pub(super) fn check_graph(flags: &[FlagEntry], limits: &Limits) -> Vec<Problem> {
    let max_depth = limits.max_prerequisite_depth.min(MAX_PREREQUISITE_DEPTH);
    let max_reach = limits.max_prerequisite_flags.min(MAX_PREREQUISITE_FLAGS);
    let mut depth = vec![0usize; flags.len()];
    let mut reached: Vec<Vec<u32>> = vec![Vec::new(); flags.len()];
    for i in dependencies_first(flags) {
        let mut d = 0;
        let mut set: Vec<u32> = Vec::new();
        for p in prerequisites(flags, i) {
            d = d.max(depth[p].saturating_add(1));
            set.extend(u32::try_from(p).ok());
            set.extend_from_slice(&reached[p]);
        }
        set.sort_unstable();
        set.dedup();
        set.truncate(max_reach + 1);
        depth[i] = d;
        reached[i] = set;
    }
    let mut problems = Vec::new();
    for i in 0..flags.len() {
        if problems.len() >= MAX_REPORTED {
            break;
        }
        let path = format!("flags.{}.prerequisites", key(flags, i));
        if depth[i] > max_depth {
            problems.push(Problem {
                path,
                kind: ProblemKind::LimitExceeded {
                    what: "prerequisite depth",
                    limit: max_depth,
                    found: depth[i],
                },
            });
        } else if reached[i].len() > max_reach {
            problems.push(Problem {
                path,
                kind: ProblemKind::LimitExceeded {
                    what: "flags reached through prerequisites",
                    limit: max_reach,
                    found: reach(flags, i),
                },
            });
        }
    }
    problems
}
