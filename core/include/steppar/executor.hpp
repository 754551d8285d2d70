// Executing the steps of the expanded graph. This is the one code path that does work: the
// sequential and parallel runners call it in one child process per slice (`steppar-host
// run-slice`), and a cluster engine's jobs call it the same way.
//
//   slicer:  list the input partitions once, zip them by name, cut them, write the plan
//   slice i: read the plan, run the node (or chain) on each of its partitions, write the marker
//   barrier: every marker present, valid, for this plan and successful; never touches outputs
#pragma once

#include "steppar/plan.hpp"
#include "steppar/project.hpp"

namespace steppar {

/// How a slice or node treats work already done.
struct ExecutionOptions {
    /// Skip a partition when all its outputs exist and are newer than all its inputs (like make).
    bool only_missing = false;
};

/// The plan the slicer would write now, without writing anything (for `steppar-host plan`).
SlicePlan plan_slices(const Project& project, const Unit& unit, int slice_count, const std::string& only = {});

/// Lists and zips the unit's partitioned inputs and cuts them into `slice_count` slices. When
/// the plan on disk is the same plan (same partitions, same cut) it is kept with its markers,
/// so finished slices can be skipped; otherwise (or with `force`) a new plan replaces it and the
/// old markers go.
/// `only` (a regex, e.g. from --partitions) narrows the partitions further; filter/exclude and
/// cached configurators apply first.
SlicePlan run_slicer(Project& project, const Unit& unit, int slice_count, bool force = false, const std::string& only = {});

/// Runs slice `slice` of the unit's current plan and writes its marker (also on failure).
/// Throws NodeError naming node, slice and partition when a node fails.
void run_slice(Project& project, const Unit& unit, int slice, const ExecutionOptions& options = {});

/// Succeeds when every slice of the current plan has a valid success marker; otherwise throws
/// NodeError listing every slice that did not succeed and why.
void check_barrier(const Project& project, const Unit& unit);

/// Runs a plain (not replicated) node: a whole function once, or a partition function over all
/// partitions; writes its marker on success. Throws NodeError when it fails.
void run_node(Project& project, const Unit& unit, const ExecutionOptions& options = {});

/// What decides a slice's (`part`) or plain node's (nullptr) result: the plan, each node's
/// definition, function, plugin bytes and params, and the size and mtime of every input file.
std::string fingerprint(Project& project, const Unit& unit, const SlicePart* part);

/// True when the slice (`part`; nullptr for a plain node) has a success marker for this plan
/// and fingerprint and all its outputs still exist: a rerun can skip it.
bool up_to_date(Project& project, const Unit& unit, const SlicePart* part);

/// The partition a slice process was working on when it stopped ("" when unknown), from its
/// progress file.
std::string partition_in_progress(const Project& project, const Unit& unit, int slice);

}  // namespace steppar
