// Running a slice or a plain node: the one code path that calls node functions. The local
// runners call it in a child process per step (forked from the fork server, or as an exec'd
// `steppar-host run-slice`/`run-node`), a cluster's jobs call it the same way.
//
//   slice i: read its part of the plan -> for each partition: stat its inputs, call the node (or
//            the chain), stat the outputs, append a ledger record -> sync once -> marker
//
// A partition whose input vanished since slicing is logged by name and left for the next run (a
// `V` line in the ledger), never failed with a bare "cannot open". A failing node stops the
// slice at that partition with a failed marker naming it; the partitions finished before keep
// their records, so a rerun does not redo them. A retry of the same plan skips what an earlier
// attempt recorded.
#pragma once

#include "steppar/project.hpp"

#include <string>

namespace steppar {

/// Runs slice `slice` of the unit's current plan and writes its marker (also on failure).
/// Throws NodeError naming node, slice and partition when a node fails, and when the unit's
/// definition (pipeline file, params, plugin) changed since the plan was made.
void run_slice(Project& project, const Unit& unit, int slice);

struct NodeRunOptions {
    bool planned = false;  ///< the host has decided that it runs (and has planned it): no check
    bool force = false;    ///< run even when up to date
    bool adopt = false;    ///< --only-missing (see planning.hpp)
};

/// Runs a plain (not replicated) node. A partition function is planned like a unit of one slice
/// (only its dirty partitions run) and verified like a barrier; a whole function runs once when
/// its inputs or definition changed, writes a marker either way, and afterwards removes the
/// partitions it wrote last time and not this time. Throws NodeError when it fails.
void run_node(Project& project, const Unit& unit, const NodeRunOptions& options = {});

/// The partition a slice was on when its process stopped ("" when unknown): the first one of
/// its part that its ledger segment does not record.
std::string partition_in_progress(const Project& project, const Unit& unit, int slice);

}  // namespace steppar
