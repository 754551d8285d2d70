// `graph --format svg|png`: the dot picture drawn by Graphviz's `dot`, when it is installed.
#pragma once

#include <string>

namespace steppar::cli {

/// `dot_text` drawn as `format` ("svg" or "png") by Graphviz's `dot`. Throws UsageError when
/// `dot` is not on PATH, StateError when it fails.
std::string render_with_graphviz(const std::string& dot_text, const std::string& format);

}  // namespace steppar::cli
