// Executing the steps of the expanded graph. This is the one code path that does work: the
// sequential runner calls it in-process, the parallel runner in one child process per slice
// (`steppar-host run-slice`), and a cluster engine the same way.
//
//   slicer:  list the input partitions once, zip them by name, cut them, write the plan
//   slice i: read the plan, run the node (or chain) on each of its partitions, write the marker
//   barrier: every marker present, valid, for this plan and successful; never touches outputs
#pragma once

#include "steppar/plan.hpp"
#include "steppar/project.hpp"

namespace steppar {

/// Lists and zips the unit's partitioned inputs, writes a fresh plan of `slice_count` slices
/// and removes markers of earlier plans. Returns the plan.
SlicePlan run_slicer(Project& project, const Unit& unit, int slice_count);

/// Runs slice `slice` of the unit's current plan and writes its marker (also on failure).
/// Throws NodeError naming node, slice and partition when a node fails.
void run_slice(Project& project, const Unit& unit, int slice);

/// Succeeds when every slice of the current plan has a valid success marker; otherwise throws
/// NodeError listing every slice that did not succeed and why.
void check_barrier(const Project& project, const Unit& unit);

/// Runs a plain (not replicated) node: a whole function once, or a partition function over all
/// partitions. Throws NodeError when it fails.
void run_node(Project& project, const Unit& unit);

}  // namespace steppar
