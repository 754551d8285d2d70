// The expanded graph as a picture: steps (slicer, slices, barrier, plain nodes) and the
// datasets between units, drawn as Mermaid or Graphviz DOT text (graphviz.hpp renders DOT).
// Edges inside a unit follow the steps; between units they go through the datasets one writes
// and the other reads.
#pragma once

#include <steppar/expand.hpp>
#include <steppar/pipeline.hpp>

#include <string>
#include <utility>
#include <vector>

namespace steppar::cli {

class GraphPicture {
public:
    struct Box {
        std::string id, label, kind;  ///< kind: slicer, slice, barrier, node, dataset
    };
    GraphPicture(const Pipeline& pipeline, const ExpandedGraph& graph);

    std::string mermaid() const;
    std::string dot() const;

private:
    std::vector<Box> boxes_;
    std::vector<std::pair<std::string, std::string>> edges_;
};

}  // namespace steppar::cli
