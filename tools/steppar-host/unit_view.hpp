// What `plan` and `status` show of a unit without running anything: whether it works partition
// by partition, and what its slicer would plan now.
#pragma once

#include <steppar/expand.hpp>
#include <steppar/planning.hpp>
#include <steppar/project.hpp>

#include <optional>
#include <string>

namespace steppar::cli {

/// Whether a unit works partition by partition (a multinode, a multipipeline, or a plain node
/// with a partition function): then it has a plan and a ledger.
bool over_partitions(Project& project, const Unit& unit);

/// What the unit's slicer would plan now (the dirty partitions, cut into slices), or nothing
/// while an input is made upstream and does not exist yet. Writes nothing.
std::optional<PlannedUnit> plan_now(Project& project, const ExpandedGraph& graph, std::size_t u, const std::string& only = {});

}  // namespace steppar::cli
