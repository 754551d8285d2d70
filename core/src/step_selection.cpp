#include "steppar/step_selection.hpp"

#include "steppar/error.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <set>

namespace steppar {
namespace {

// --from-nodes / --to-nodes: the named units (by unit or node name) and everything downstream,
// or upstream, of them; all units when the option is not given.
std::vector<bool> units_between(const Pipeline& pipeline, const ExpandedGraph& graph, const StepSelection& options) {
    const auto& units = pipeline.units();
    std::vector<std::set<std::size_t>> upstream(units.size()), downstream(units.size());
    for (const auto& step : graph.steps)
        for (const auto d : step.depends_on)
            if (graph.steps[d].unit != step.unit) {
                upstream[step.unit].insert(graph.steps[d].unit);
                downstream[graph.steps[d].unit].insert(step.unit);
            }
    auto closure = [&](const std::vector<std::string>& names, const char* option, const std::vector<std::set<std::size_t>>& next) {
        std::vector<bool> reached(units.size(), names.empty());
        std::vector<std::string> known;
        std::vector<std::size_t> work;
        for (const auto& name : names) {
            bool found = false;
            for (std::size_t u = 0; u < units.size(); ++u) {
                bool match = units[u].name == name;
                for (const auto& n : units[u].nodes) match = match || n.name == name;
                if (match && !reached[u]) work.push_back(u);
                found = found || match;
                reached[u] = reached[u] || match;
            }
            if (!found) {
                for (const auto& unit : units) {
                    known.push_back(unit.name);
                    for (const auto& n : unit.nodes) known.push_back(n.name);
                }
                throw UsageError(std::string(option) + ": no node or multinode named '" + name + "'" + suggestion(name, known));
            }
        }
        while (!work.empty()) {
            const std::size_t u = work.back();
            work.pop_back();
            for (const auto v : next[u])
                if (!reached[v]) {
                    reached[v] = true;
                    work.push_back(v);
                }
        }
        return reached;
    };
    const auto from = closure(options.from_nodes, "--from-nodes", downstream);
    const auto to = closure(options.to_nodes, "--to-nodes", upstream);
    std::vector<bool> allowed(units.size());
    for (std::size_t u = 0; u < units.size(); ++u) allowed[u] = from[u] && to[u];
    return allowed;
}

}  // namespace

std::vector<bool> select_steps(const Pipeline& pipeline, const ExpandedGraph& graph, const StepSelection& options) {
    const auto& steps = graph.steps;
    const std::vector<bool> between = units_between(pipeline, graph, options);
    if (options.nodes.empty() && options.tags.empty()) {
        std::vector<bool> chosen(steps.size());
        for (std::size_t i = 0; i < steps.size(); ++i) chosen[i] = between[steps[i].unit];
        return chosen;
    }
    std::vector<bool> chosen(steps.size(), false);
    std::vector<bool> unit_chosen(pipeline.units().size(), false);
    std::set<std::string> known_names, known_tags;
    for (std::size_t u = 0; u < pipeline.units().size(); ++u) {
        const Unit& unit = pipeline.units()[u];
        std::vector<std::string> names = {unit.name};
        for (const auto& n : unit.nodes) names.push_back(n.name);
        known_names.insert(names.begin(), names.end());
        for (const auto& name : names)
            if (std::find(options.nodes.begin(), options.nodes.end(), name) != options.nodes.end()) unit_chosen[u] = true;
        for (const auto& tag : Pipeline::tags(unit)) {
            known_tags.insert(tag);
            if (std::find(options.tags.begin(), options.tags.end(), tag) != options.tags.end()) unit_chosen[u] = true;
        }
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
        known_names.insert(steps[i].name);
        if (unit_chosen[steps[i].unit]) chosen[i] = true;
        if (std::find(options.nodes.begin(), options.nodes.end(), steps[i].name) != options.nodes.end()) {
            chosen[i] = true;
            for (std::size_t j = 0; j < steps.size(); ++j)  // a slice needs its plan
                if (steps[j].unit == steps[i].unit && steps[j].kind == StepKind::slicer) chosen[j] = true;
        }
    }
    const std::vector<std::string> names(known_names.begin(), known_names.end()), tags(known_tags.begin(), known_tags.end());
    for (const auto& n : options.nodes)
        if (!known_names.count(n)) throw UsageError("--nodes: no step, node or multinode named '" + n + "'" + suggestion(n, names));
    for (const auto& t : options.tags)
        if (!known_tags.count(t)) throw UsageError("--tags: no unit is tagged '" + t + "'" + suggestion(t, tags));
    for (std::size_t i = 0; i < steps.size(); ++i) chosen[i] = chosen[i] && between[steps[i].unit];
    return chosen;
}

}  // namespace steppar
