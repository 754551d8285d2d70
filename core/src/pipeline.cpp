// The pipeline model and its construction (node(), multinode(), multipipeline(), Fragment), and
// what a validated pipeline answers; the validation passes are pipeline_validation.cpp.
#include "steppar/pipeline.hpp"

#include "steppar/error.hpp"
#include "steppar/spec.hpp"  // auto_slices()
#include "steppar/text.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace steppar {

FunctionRef FunctionRef::parse(std::string_view text) {
    const auto dot = text.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size())
        throw std::invalid_argument("function '" + std::string(text) +
                                    "' must be written PLUGIN.FUNCTION, e.g. builtin.wc");
    return FunctionRef{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
}

Node::Node(std::string name_, std::string_view function_, std::vector<std::string> inputs_,
           std::vector<std::string> outputs_, int line_)
    : name(std::move(name_)), function(FunctionRef::parse(function_)), inputs(std::move(inputs_)),
      outputs(std::move(outputs_)), line(line_) {}

int Slices::resolve() const { return per_core ? auto_slices() : count; }

Fragment operator+(Fragment a, Fragment b) {
    for (auto& unit : b.units) a.units.push_back(std::move(unit));
    return a;
}

Fragment node(Node n, UnitOptions options) {
    Unit unit{UnitKind::node, n.name, {}, Slices::fixed(1), n.line, std::move(options)};
    unit.nodes.push_back(std::move(n));
    return Fragment{{std::move(unit)}};
}

Fragment multinode(Node n, Slices slices, UnitOptions options) {
    Unit unit{UnitKind::multinode, n.name, {}, slices, n.line, std::move(options)};
    unit.nodes.push_back(std::move(n));
    return Fragment{{std::move(unit)}};
}

Fragment multipipeline(std::string name, std::vector<Node> chain, Slices slices, UnitOptions options, int line) {
    return Fragment{{Unit{UnitKind::multipipeline, std::move(name), std::move(chain), slices, line, std::move(options)}}};
}

Pipeline::Pipeline(Catalog catalog, std::map<std::string, std::string, std::less<>> params, Fragment fragment,
                   fs::path source, fs::path intermediate_root)
    : catalog_(std::move(catalog)), params_(std::move(params)), units_(std::move(fragment.units)),
      source_(std::move(source)), intermediate_root_(std::move(intermediate_root)) {}

void Pipeline::fail(int line, const std::string& message) const {
    if (source_.empty()) throw SpecError("pipeline", 0, message);
    throw SpecError(source_.string(), line, message);
}

void Pipeline::override_param(const std::string& name, std::string json) {
    const auto it = params_.find(name);
    if (it == params_.end()) {
        std::vector<std::string> names;
        for (const auto& [known, _] : params_) names.push_back(known);
        throw UsageError("--param: the pipeline file has no param '" + name + "'" + suggestion(name, names) +
                         " (add it under params: first)");
    }
    it->second = std::move(json);
}

int max_simultaneous_slices(int cap, int widest_layer) { return std::max(1, cap / std::max(1, widest_layer)); }

const ConfiguratorSet* Pipeline::configurators(const Unit& unit) const {
    const auto it = configurators_.find(unit.name);
    return it == configurators_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Pipeline::tags(const Unit& unit) {
    std::vector<std::string> tags = {unit.name};
    for (const auto& t : unit.options.tags)
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
    return tags;
}

const Unit& Pipeline::unit(std::string_view name) const {
    std::vector<std::string> names;
    for (const auto& u : units_) {
        if (u.name == name) return u;
        names.push_back(u.name);
    }
    throw UsageError("no node or multipipeline named '" + std::string(name) + "'" + suggestion(name, names));
}

NodeKind Pipeline::kind(const Node& n) const {
    const auto it = kinds_.find(n.name);
    if (it == kinds_.end()) throw std::logic_error("Pipeline::kind before validate()");
    return it->second;
}

std::vector<std::string> Pipeline::external_partitioned_inputs(const Unit& unit) const {
    std::set<std::string> inside;
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) inside.insert(out);
    std::vector<std::string> external;
    for (const auto& n : unit.nodes)
        for (const auto& in : n.inputs)
            if (!Node::is_param(in) && !inside.count(in) && catalog_.at(in).partitioned() &&
                std::find(external.begin(), external.end(), in) == external.end())
                external.push_back(in);
    return external;
}

const std::vector<int>& Pipeline::producers(std::string_view dataset) const {
    static const std::vector<int> none;
    const auto it = producers_.find(dataset);
    return it == producers_.end() ? none : it->second;
}

}  // namespace steppar
