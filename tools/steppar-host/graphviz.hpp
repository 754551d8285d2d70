// `graph --format svg|png`: the dot picture drawn by Graphviz's `dot`, when it is installed.
#pragma once

#include <string>

namespace steppar::cli {

/// Writes `dot_text` rendered as `format` ("svg" or "png") to `output`, or to stdout when
/// `output` is empty. The file appears whole or not at all. Throws UsageError when `dot` is
/// not on PATH, StateError when it fails.
void render_with_graphviz(const std::string& dot_text, const std::string& format, const std::string& output);

}  // namespace steppar::cli
