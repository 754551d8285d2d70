#include "graphviz.hpp"

#include <steppar/error.hpp>
#include <steppar/program.hpp>

namespace steppar::cli {

std::string render_with_graphviz(const std::string& dot_text, const std::string& format) {
    if (!on_path("dot"))
        throw UsageError("graph --format " + format +
                         " needs Graphviz's 'dot' on PATH (apt-get install graphviz), or use --format dot");
    // `dot -T<format>` with the graph on its stdin and the picture on its stdout.
    const ProgramResult dot = run_program({"dot", "-T" + format}, dot_text);
    if (dot.exit_code != 0) {
        std::string said = dot.error;
        while (!said.empty() && said.back() == '\n') said.pop_back();
        throw StateError("Graphviz's dot failed to draw the graph as " + format + (said.empty() ? "" : ": " + said));
    }
    return dot.output;
}

}  // namespace steppar::cli
