#include "unit_view.hpp"

#include <filesystem>

namespace fs = std::filesystem;

namespace steppar::cli {

bool over_partitions(Project& project, const Unit& unit) {
    return unit.replicated() || project.function(unit.nodes.front()).kind == NodeKind::partition;
}

std::optional<PlannedUnit> plan_now(Project& project, const ExpandedGraph& graph, std::size_t u, const std::string& only) {
    const Unit& unit = project.pipeline().units()[u];
    for (const auto& in : project.pipeline().external_partitioned_inputs(unit)) {
        std::error_code ec;
        if (!fs::is_directory(project.pipeline().catalog().at(in).path, ec)) return std::nullopt;
    }
    return plan_unit(project, unit, unit.replicated() ? slice_count(graph, u) : 1, {false, only, false});
}

}  // namespace steppar::cli
