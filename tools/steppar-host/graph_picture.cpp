#include "graph_picture.hpp"

#include <steppar/text.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace steppar::cli {

GraphPicture::GraphPicture(const Pipeline& pipeline, const ExpandedGraph& graph) {
    std::map<std::string, std::string> dataset_ids;
    auto dataset = [&](const std::string& name) {
        auto [it, added] = dataset_ids.emplace(name, "d" + std::to_string(dataset_ids.size()));
        if (added) boxes_.push_back({it->second, name, "dataset"});
        return it->second;
    };
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        const Step& step = graph.steps[i];
        const Unit& unit = pipeline.units()[step.unit];
        const std::string id = "s" + std::to_string(i);
        boxes_.push_back({id, step.name, to_string(step.kind)});
        for (const auto d : step.depends_on)
            if (graph.steps[d].unit == step.unit) edges_.emplace_back("s" + std::to_string(d), id);
        if (step.kind == StepKind::slicer || step.kind == StepKind::node) {
            std::set<std::string> inside;
            for (const auto& n : unit.nodes) inside.insert(n.outputs.begin(), n.outputs.end());
            for (const auto& n : unit.nodes)
                for (const auto& in : n.inputs)
                    if (!Node::is_param(in) && !inside.count(in)) edges_.emplace_back(dataset(in), id);
        }
        if (step.kind == StepKind::barrier || step.kind == StepKind::node)
            for (const auto& n : unit.nodes)
                for (const auto& out : n.outputs)
                    if (pipeline.catalog().contains(out) && !pipeline.catalog().at(out).intermediate) edges_.emplace_back(id, dataset(out));
    }
    std::sort(edges_.begin(), edges_.end());
    edges_.erase(std::unique(edges_.begin(), edges_.end()), edges_.end());
}

std::string GraphPicture::mermaid() const {
    std::string out = "flowchart LR\n";
    for (const auto& b : boxes_) {
        const std::string label = "\"" + b.label + "\"";
        out += "  " + b.id + (b.kind == "dataset" ? "[(" + label + ")]" : b.kind == "barrier" ? "{{" + label + "}}" : "[" + label + "]") + "\n";
    }
    for (const auto& [from, to] : edges_) out += "  " + from + " --> " + to + "\n";
    return out;
}

std::string GraphPicture::dot() const {
    std::string out = "digraph steppar {\n  rankdir=LR;\n";
    for (const auto& b : boxes_) {
        std::string label;
        append_json_string(label, b.label);  // a JSON string is a valid DOT string
        const char* shape = b.kind == "dataset" ? "cylinder" : b.kind == "barrier" ? "hexagon" : "box";
        out += "  " + b.id + " [label=" + label + ", shape=" + shape + "];\n";
    }
    for (const auto& [from, to] : edges_) out += "  " + from + " -> " + to + ";\n";
    return out + "}\n";
}

}  // namespace steppar::cli
