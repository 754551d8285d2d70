// Pipeline::validate(): named passes, each relying on what the ones before it completed. They
// complete the pipeline (namespaced names, node kinds, producers, intermediate datasets, ordered
// chains and units) and refuse, with the file and line, what cannot run.
#include "steppar/pipeline.hpp"

#include "steppar/date_range.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/regex.hpp"
#include "steppar/spec.hpp"  // the slice, step and stale-temporary limits
#include "steppar/text.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace steppar {

namespace {

bool valid_name(std::string_view name) {
    if (name.empty() || name.front() == '.' || name.front() == '-') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// Each slice is a process, a plan part and a marker: 'slices: 1000000' would write a million files.
std::string too_many_slices(const std::string& unit, long long slices, const std::string& because, const std::string& remedy) {
    return "'" + unit + "' has " + count_text(static_cast<std::size_t>(slices)) + " slices" + because + ", more than the limit of " +
           count_text(static_cast<std::size_t>(max_slices())) + " per unit (each slice is a process, a plan file and a marker); " +
           remedy + ", or raise the limit with STEPPAR_MAX_SLICES=" + std::to_string(slices);
}

// Orders items so every item comes after the ones it depends on; on a cycle returns the
// cycle's items in order (first == last) in `cycle` and an empty order.
std::vector<std::size_t> topological_order(const std::vector<std::vector<std::size_t>>& depends_on,
                                           std::vector<std::size_t>& cycle) {
    enum class Mark { none, active, done };
    std::vector<Mark> mark(depends_on.size(), Mark::none);
    std::vector<std::size_t> order, stack;
    // Iterative DFS keeps a 100,000-node pipeline from overflowing the stack.
    for (std::size_t root = 0; root < depends_on.size(); ++root) {
        if (mark[root] != Mark::none) continue;
        std::vector<std::pair<std::size_t, std::size_t>> work{{root, 0}};
        mark[root] = Mark::active;
        stack = {root};
        while (!work.empty()) {
            auto& [item, next] = work.back();
            if (next < depends_on[item].size()) {
                const std::size_t dep = depends_on[item][next++];
                if (mark[dep] == Mark::active) {
                    const auto from = std::find(stack.begin(), stack.end(), dep);
                    cycle.assign(from, stack.end());
                    cycle.push_back(dep);
                    return {};
                }
                if (mark[dep] == Mark::none) {
                    mark[dep] = Mark::active;
                    stack.push_back(dep);
                    work.push_back({dep, 0});
                }
            } else {
                mark[item] = Mark::done;
                order.push_back(item);
                stack.pop_back();
                work.pop_back();
            }
        }
    }
    return order;
}

}  // namespace

// Namespaces: prefix node names and datasets that are not in the catalog, so one block can be
// used twice without clashes (catalog datasets and params keep their names).
void Pipeline::apply_namespaces() {
    for (auto& unit : units_) {
        const std::string& ns = unit.options.name_space;
        if (ns.empty()) continue;
        if (!valid_name(ns)) fail(unit.line, "namespace '" + ns + "' is not valid: use letters, digits, '_', '-' and '.'");
        auto prefixed = [&](std::string& name) {
            if (!Node::is_param(name) && !catalog_.contains(name)) name = ns + "." + name;
        };
        unit.name = ns + "." + unit.name;
        for (auto& n : unit.nodes) {
            n.name = ns + "." + n.name;
            for (auto& in : n.inputs) prefixed(in);
            for (auto& out : n.outputs) prefixed(out);
        }
    }
}

// Names: unique across nodes and multipipelines, usable as file names in the state folder.
void Pipeline::check_names_and_options() {
    std::map<std::string, int, std::less<>> seen;
    auto claim = [&](const std::string& name, int line, std::string_view what) {
        if (!valid_name(name))
            fail(line, std::string(what) + " name '" + name + "' is not valid: use letters, digits, '_', '-' and '.'");
        if (!seen.emplace(name, line).second)
            fail(line, std::string(what) + " name '" + name + "' is used twice (first at line " +
                           std::to_string(seen[name]) + ")");
    };
    for (const auto& unit : units_) {
        for (const auto& tag : unit.options.tags)
            if (!valid_name(tag)) fail(unit.line, "'" + unit.name + "': tag '" + tag + "' is not valid: use letters, digits, '_', '-' and '.'");
        if (!unit.replicated()) {
            const auto& o = unit.options;
            if (!o.filter.empty() || !o.exclude.empty() || o.date_range || o.strict || !o.configurator.empty() || o.balance != Balance::count)
                fail(unit.line, "'" + unit.name + "': filter, exclude, date_range, strict, balance and configurator need a multinode (add 'slices')");
        }
        for (const auto* list : {&unit.options.filter, &unit.options.exclude})
            for (const auto& expression : *list) try {
                    Regex{expression};
                } catch (const std::invalid_argument& e) {
                    fail(unit.line, "'" + unit.name + "': " + e.what());
                }
        if (unit.options.date_range) try {
                DateRange{*unit.options.date_range};
            } catch (const std::invalid_argument& e) {
                fail(unit.line, "'" + unit.name + "': " + e.what());
            }
        if (!unit.options.configurator.empty()) {
            // `params:NAME`, as kedro-partitioned and `inputs:` write it, or just NAME.
            const std::string& given = unit.options.configurator;
            const std::string name = Node::is_param(given) ? Node::param_name(given) : given;
            const auto it = params_.find(name);
            if (it == params_.end()) {
                std::vector<std::string> names;
                for (const auto& [param, _] : params_) names.push_back(param);
                fail(unit.line, "'" + unit.name + "': configurator parameter '" + name + "' is not in 'params'" + suggestion(name, names));
            }
            try {
                configurators_[unit.name] = std::make_shared<const ConfiguratorSet>(ConfiguratorSet::parse(it->second));
            } catch (const std::exception& e) {
                fail(unit.line, "'" + unit.name + "': configurator parameter '" + name + "': " + e.what());
            }
        }
        if (unit.kind == UnitKind::multipipeline) {
            claim(unit.name, unit.line, "multipipeline");
            if (unit.nodes.empty()) fail(unit.line, "multipipeline '" + unit.name + "' has no nodes");
        }
        for (const auto& n : unit.nodes) claim(n.name, n.line, "node");
        if (unit.replicated() && !unit.slices.per_core && unit.slices.count < 1)
            fail(unit.line, "'" + unit.name + "': slices must be at least 1 or 'auto', got " +
                                std::to_string(unit.slices.count));
        if (unit.replicated() && !unit.slices.per_core && unit.slices.count > max_slices())
            fail(unit.line, too_many_slices(unit.name, unit.slices.count, "", "use fewer"));
        if (unit.replicated() && unit.slices.per_core && unit.slices.resolve() > max_slices())
            fail(unit.line, too_many_slices(unit.name, unit.slices.resolve(), " ('auto': STEPPAR_NODES x STEPPAR_WORKERS)",
                                            "lower STEPPAR_NODES or STEPPAR_WORKERS"));
    }

    for (const auto& [name, d] : catalog_.all())
        if (!valid_name(name))
            fail(d.line, "dataset name '" + name + "' is not valid: use letters, digits, '_', '-' and '.'");
}

// Functions: every node's function must exist; replicated nodes need partition functions.
void Pipeline::resolve_kinds(const KindResolver& kind_of) {
    kinds_.clear();
    for (const auto& unit : units_)
        for (const auto& n : unit.nodes) {
            NodeKind kind;
            try {
                kind = kind_of(n);
            } catch (const PluginError& e) {
                fail(n.line, "node '" + n.name + "': " + e.what());
            }
            if (unit.replicated() && kind != NodeKind::partition)
                fail(n.line, "node '" + n.name + "': '" + n.function.text() +
                                 "' is a whole function; only partition functions can be sliced (remove 'slices')");
            kinds_[n.name] = kind;
        }
}

// Producers: a dataset has one writer, except a partitioned one written by partition
// functions of different units: each of its partitions must come from one of them (checked
// when slicing, see freshness.hpp), and what reads it waits for all of them.
void Pipeline::collect_producers() {
    producers_.clear();
    std::map<std::string, std::string, std::less<>> first_writer;
    for (std::size_t u = 0; u < units_.size(); ++u)
        for (const auto& n : units_[u].nodes) {
            if (n.outputs.empty()) fail(n.line, "node '" + n.name + "' has no outputs");
            for (const auto& out : n.outputs) {
                if (Node::is_param(out)) fail(n.line, "node '" + n.name + "': params cannot be outputs ('" + out + "')");
                auto& writers = producers_[out];
                if (!writers.empty()) {
                    const std::string& other = first_writer[out];
                    const bool file = catalog_.contains(out) && !catalog_.at(out).partitioned();
                    if (writers.back() == static_cast<int>(u))
                        fail(n.line, "dataset '" + out + "' is written twice in '" + units_[u].name + "', by '" + other + "' and '" + n.name +
                                         "' (give one of them another output)");
                    if (file || kinds_[n.name] != NodeKind::partition || kinds_[other] != NodeKind::partition)
                        fail(n.line, "dataset '" + out + "' is written by two nodes, '" + other + "' and '" + n.name +
                                         "'; only a partitioned dataset may have several producers, each a partition function "
                                         "(give one of them another output)");
                } else {
                    first_writer[out] = n.name;
                }
                writers.push_back(static_cast<int>(u));
            }
        }
}

// Intermediates: datasets produced but not in the catalog live under the state folder.
void Pipeline::add_intermediates() {
    for (const auto& unit : units_)
        for (const auto& n : unit.nodes)
            for (const auto& out : n.outputs)
                if (!catalog_.contains(out)) {
                    Dataset d;
                    d.name = out;
                    d.kind = kinds_[n.name] == NodeKind::partition ? DatasetKind::partitioned : DatasetKind::file;
                    d.path = intermediate_root_ / out;
                    d.intermediate = true;
                    if (d.partitioned()) {  // any set of names an input holds (see catalog.hpp)
                        d.suffix = ".p";
                        d.folder_suffix = ".d";
                    }
                    d.line = n.line;
                    catalog_.add(std::move(d));
                }
}

// Inputs: known datasets and params; partition functions read at least one partitioned input
// and write only partitioned outputs.
void Pipeline::check_inputs() {
    std::vector<std::string> param_names;
    for (const auto& [name, _] : params_) param_names.push_back(name);
    for (const auto& unit : units_)
        for (const auto& n : unit.nodes) {
            bool has_partitioned_input = false;
            for (const auto& in : n.inputs) {
                if (std::find(n.outputs.begin(), n.outputs.end(), in) != n.outputs.end())
                    fail(n.line, "cycle: node '" + n.name + "' reads its own output '" + in + "' (" + n.name + " -> " +
                                     n.name + ")");
                if (Node::is_param(in)) {
                    if (!params_.count(Node::param_name(in)))
                        fail(n.line, "node '" + n.name + "': unknown parameter '" + in + "'" +
                                         suggestion(Node::param_name(in), param_names));
                    continue;
                }
                if (!catalog_.contains(in))
                    fail(n.line, "node '" + n.name + "': unknown dataset '" + in + "'" + suggestion(in, catalog_.names()) +
                                     "; declare it under 'catalog:' or produce it with a node");
                if (catalog_.at(in).partitioned()) has_partitioned_input = true;
            }
            if (kinds_[n.name] == NodeKind::partition) {
                if (!has_partitioned_input)
                    fail(n.line, "node '" + n.name + "': '" + n.function.text() +
                                     "' is a partition function but the node has no partitioned input");
                for (const auto& out : n.outputs)
                    if (!catalog_.at(out).partitioned())
                        fail(n.line, "node '" + n.name + "': partition function '" + n.function.text() +
                                         "' cannot write file dataset '" + out + "' (make it type: partitioned)");
            }
        }
}

// No output may be written into an input's folder: it would become a partition of that input.
// Paths are compared resolved (same_or_inside): a link to an input folder is that folder.
void Pipeline::check_output_folders() {
    for (const auto& [out_name, _] : producers_) {
        const Dataset& out = catalog_.at(out_name);
        for (const auto& [in_name, in] : catalog_.all()) {
            if (in_name == out_name || !in.partitioned()) continue;
            if (same_or_inside(out.path, in.path))
                fail(out.line, "output '" + out_name + "' (" + out.path.string() + ") is inside the folder of dataset '" +
                                   in_name + "' (" + in.path.string() + "); move it elsewhere");
            if (out.partitioned() && same_or_inside(in.path, out.path))
                fail(out.line, "dataset '" + in_name + "' (" + in.path.string() + ") is inside the folder of output '" +
                                   out_name + "' (" + out.path.string() + "); its files would be read as partitions");
        }
    }
}

// Order each multipipeline's chain by its internal data flow (order_units() orders the units).
void Pipeline::order_chains() {
    for (auto& unit : units_) {
        if (unit.nodes.size() < 2) continue;
        std::map<std::string, std::size_t, std::less<>> made_by;
        for (std::size_t i = 0; i < unit.nodes.size(); ++i)
            for (const auto& out : unit.nodes[i].outputs) made_by[out] = i;
        std::vector<std::vector<std::size_t>> deps(unit.nodes.size());
        for (std::size_t i = 0; i < unit.nodes.size(); ++i)
            for (const auto& in : unit.nodes[i].inputs)
                if (auto it = made_by.find(in); it != made_by.end()) deps[i].push_back(it->second);
        std::vector<std::size_t> cycle;
        const auto order = topological_order(deps, cycle);
        if (order.empty()) {
            std::vector<std::string> names;
            for (auto i : cycle) names.push_back(unit.nodes[i].name);
            fail(unit.line, "cycle in multipipeline '" + unit.name + "': " + join(names, " -> "));
        }
        std::vector<Node> sorted;
        for (auto i : order) sorted.push_back(unit.nodes[i]);
        unit.nodes = std::move(sorted);
    }
}

// max_simultaneous_steps: the widest layer of the chain times the slices stays within the cap.
void Pipeline::apply_max_simultaneous_steps() {
    for (auto& unit : units_) {
        const int cap = unit.options.max_simultaneous_steps;
        if (cap <= 0) continue;
        if (unit.kind != UnitKind::multipipeline) fail(unit.line, "'" + unit.name + "': max_simultaneous_steps is for multipipelines");
        std::map<std::string, int, std::less<>> depth_of_output;
        std::map<int, int> width;
        for (const auto& n : unit.nodes) {  // in data-flow order
            int depth = 0;
            for (const auto& in : n.inputs)
                if (auto it = depth_of_output.find(in); it != depth_of_output.end()) depth = std::max(depth, it->second + 1);
            for (const auto& out : n.outputs) depth_of_output[out] = depth;
            ++width[depth];
        }
        int widest = 1;
        for (const auto& [_, w] : width) widest = std::max(widest, w);
        unit.slices = Slices::fixed(max_simultaneous_slices(cap, widest));
        if (unit.slices.count > max_slices())
            fail(unit.line, too_many_slices(unit.name, unit.slices.count,
                                            " (max_simultaneous_steps " + std::to_string(cap) + " over a widest layer of " +
                                                std::to_string(widest) + ")",
                                            "lower max_simultaneous_steps"));
    }
}

// Every step is a process or a plan file at least: a typo must not start a million of them.
void Pipeline::check_step_count() {
    const auto steps_of = [](const Unit& unit) -> long long { return unit.replicated() ? unit.slices.resolve() + 2LL : 1; };
    long long total = 0;
    for (const auto& unit : units_) total += steps_of(unit);
    if (total > max_steps()) {
        long long sum = 0;
        const Unit* crossing = &units_.front();  // where the limit is passed, for the line
        for (const auto& unit : units_)
            if ((sum += steps_of(unit)) > max_steps()) {
                crossing = &unit;
                break;
            }
        fail(crossing->line, "the pipeline expands to " + count_text(static_cast<std::size_t>(total)) +
                                 " steps (slicers, slices, barriers and plain nodes; '" + crossing->name +
                                 "' passes the limit), more than the limit of " + count_text(static_cast<std::size_t>(max_steps())) +
                                 "; use fewer slices, or raise the limit with STEPPAR_MAX_STEPS=" + std::to_string(total));
    }
}

// A unit depends on every producer of what it reads. Co-producers of a dataset also wait for
// each other's inputs: each slicer checks that no partition has two producers, which needs
// the other producers' partitions final.
void Pipeline::order_units() {
    std::vector<std::vector<std::size_t>> deps(units_.size());
    auto depend = [&](std::size_t u, std::size_t on) {
        if (on != u && std::find(deps[u].begin(), deps[u].end(), on) == deps[u].end()) deps[u].push_back(on);
    };
    for (std::size_t u = 0; u < units_.size(); ++u)
        for (const auto& n : units_[u].nodes)
            for (const auto& in : n.inputs)
                if (auto it = producers_.find(in); it != producers_.end())
                    for (const int p : it->second) depend(u, static_cast<std::size_t>(p));
    const auto direct = deps;
    for (const auto& [_, writers] : producers_)
        for (const int u : writers)
            for (const int other : writers)
                if (other != u)
                    for (const auto on : direct[static_cast<std::size_t>(other)]) depend(static_cast<std::size_t>(u), on);
    std::vector<std::size_t> cycle;
    const auto order = topological_order(deps, cycle);
    if (order.empty()) {
        std::vector<std::string> names;
        for (auto u : cycle) names.push_back(units_[u].name);
        fail(units_[cycle.front()].line, "cycle between nodes: " + join(names, " -> "));
    }
    std::vector<Unit> sorted;
    std::vector<std::size_t> position(units_.size());
    for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
    for (auto u : order) sorted.push_back(std::move(units_[u]));
    units_ = std::move(sorted);
    upstream_.assign(units_.size(), {});
    for (std::size_t u = 0; u < order.size(); ++u)
        for (const auto on : deps[order[u]]) upstream_[u].push_back(position[on]);
    producers_.clear();
    for (std::size_t u = 0; u < units_.size(); ++u)
        for (const auto& n : units_[u].nodes)
            for (const auto& out : n.outputs) producers_[out].push_back(static_cast<int>(u));
}

// The passes in order: each relies on what the ones before it completed (namespaced names,
// node kinds, producers, intermediate datasets, ordered chains).
void Pipeline::validate(const KindResolver& kind_of) {
    // It completes the pipeline (prefixes namespaces, adds intermediates): never twice.
    if (validated_) throw std::logic_error("Pipeline::validate() was already called on this pipeline");
    validated_ = true;
    if (units_.empty()) fail(0, "the pipeline has no nodes (add entries under 'nodes:')");
    apply_namespaces();
    check_names_and_options();
    resolve_kinds(kind_of);
    collect_producers();
    add_intermediates();
    check_inputs();
    check_output_folders();
    order_chains();
    apply_max_simultaneous_steps();
    check_step_count();
    stale_temporary_hours();  // a bad STEPPAR_STALE_TEMPORARY_HOURS stops every command here, not a sweep mid-run
    order_units();
}

}  // namespace steppar
