// The step-parallel expansion: every multinode/multipipeline becomes
//
//     <name>-slicer -> <name>-slice-0 .. <name>-slice-(N-1) -> <name>-barrier
//
// and every node that reads one of its outputs depends on the barrier. Plain nodes stay one
// step. Steps come out in an order where each follows everything it depends on, so a
// sequential runner can simply walk them.
#pragma once

#include "steppar/pipeline.hpp"
#include "steppar/step_kind.hpp"

#include <string>
#include <vector>

namespace steppar {


struct Step {
    StepKind kind;
    std::string name;                ///< e.g. "count-slice-3"
    std::size_t unit;                ///< index into Pipeline::units()
    int slice = -1;                  ///< for slice steps
    std::vector<std::size_t> depends_on;  ///< indices of steps that must finish first
};

struct ExpandedGraph {
    std::vector<Step> steps;
};

/// Expands a validated pipeline. Slice counts are resolved here (`auto`: auto_slices(), spec.hpp).
ExpandedGraph expand(const Pipeline& pipeline);

/// How many slices unit `unit` was expanded into (0 for a plain node): the one count the
/// slicer, the exports and the cluster runner must all agree on.
int slice_count(const ExpandedGraph& graph, std::size_t unit);

std::string slicer_name(std::string_view unit);
std::string slice_name(std::string_view unit, int slice);
std::string barrier_name(std::string_view unit);

}  // namespace steppar
