#include "steppar/expand.hpp"

#include <algorithm>

namespace steppar {

std::string slicer_name(std::string_view unit) { return std::string(unit) + "-slicer"; }
std::string slice_name(std::string_view unit, int slice) { return std::string(unit) + "-slice-" + std::to_string(slice); }
std::string barrier_name(std::string_view unit) { return std::string(unit) + "-barrier"; }

int slice_count(const ExpandedGraph& graph, std::size_t unit) {
    return static_cast<int>(std::count_if(graph.steps.begin(), graph.steps.end(),
                                          [&](const Step& s) { return s.kind == StepKind::slice && s.unit == unit; }));
}

ExpandedGraph expand(const Pipeline& pipeline) {
    ExpandedGraph graph;
    // The step whose completion makes a unit's outputs available: its barrier or its node.
    std::vector<std::size_t> done_step(pipeline.units().size());
    for (std::size_t u = 0; u < pipeline.units().size(); ++u) {  // units are in dependency order
        const Unit& unit = pipeline.units()[u];
        std::vector<std::size_t> upstream;
        for (const auto on : pipeline.upstream(u)) upstream.push_back(done_step[on]);
        if (!unit.replicated()) {
            graph.steps.push_back(Step{StepKind::node, unit.name, u, -1, upstream});
            done_step[u] = graph.steps.size() - 1;
            continue;
        }
        const std::size_t slicer = graph.steps.size();
        graph.steps.push_back(Step{StepKind::slicer, slicer_name(unit.name), u, -1, upstream});
        const int n = unit.slices.resolve();
        std::vector<std::size_t> slices;
        for (int i = 0; i < n; ++i) {
            slices.push_back(graph.steps.size());
            graph.steps.push_back(Step{StepKind::slice, slice_name(unit.name, i), u, i, {slicer}});
        }
        graph.steps.push_back(Step{StepKind::barrier, barrier_name(unit.name), u, -1, slices});
        done_step[u] = graph.steps.size() - 1;
    }
    return graph;
}

}  // namespace steppar
