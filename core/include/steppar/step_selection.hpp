// Which steps a run runs: --nodes and --tags pick units (or single slices), --from-nodes and
// --to-nodes cut the graph downstream or upstream of named units. Pure: the pipeline and its
// expanded graph in, one flag per step out; a name that matches nothing is a UsageError with
// "did you mean".
//
//   select_steps(pipeline, graph, {{"count-slice-2"}, {}, {}, {}})   // that slice and its slicer
#pragma once

#include "steppar/expand.hpp"
#include "steppar/pipeline.hpp"

#include <string>
#include <vector>

namespace steppar {

struct StepSelection {
    std::vector<std::string> nodes;       ///< steps, nodes or units (empty: all)
    std::vector<std::string> tags;        ///< units carrying one of these tags (empty: all)
    std::vector<std::string> from_nodes;  ///< these units and what depends on them (empty: all)
    std::vector<std::string> to_nodes;    ///< these units and what they depend on (empty: all)
};

/// One flag per step of `graph`: whether the run runs it. A unit, node or tag selects every step
/// of its units; a single slice selects that slice plus its unit's slicer (its plan), not the
/// barrier: the unit is complete only when every slice is.
std::vector<bool> select_steps(const Pipeline& pipeline, const ExpandedGraph& graph, const StepSelection& selection);

}  // namespace steppar
