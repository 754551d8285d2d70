// The pipeline file (YAML or JSON, one schema), parsed into the C++ API of pipeline.hpp.
//
//   plugins:  {builtin: steppar_builtin}          # bare name on the plugin path, or a path
//   catalog:
//     docs:   {type: partitioned, path: data/docs, suffix: .txt}   # paths relative to the file
//     total:  {type: file, path: out/total.json}
//   params:   {min_length: 3}
//   nodes:
//     - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 4}
//     - multipipeline: {name: clean, slices: auto, nodes: [...]}
//
// Every error is a SpecError naming the file and line, with the nearest valid key suggested
// for unknown keys.
#pragma once

#include "steppar/pipeline.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

struct PluginDeclaration {
    std::string alias;
    std::string reference;  ///< bare name or path as written
    int line = 0;
};

struct PipelineFile {
    std::filesystem::path path;  ///< absolute
    std::vector<PluginDeclaration> plugins;
    Pipeline pipeline;  ///< not yet validated
};

/// Parses `file`; datasets not in the catalog will live under `intermediate_root`.
PipelineFile parse_pipeline_file(const std::filesystem::path& file, const std::filesystem::path& intermediate_root);

/// Same, from text (for tests and fuzzing); `file` is used for messages and relative paths.
PipelineFile parse_pipeline_text(const std::string& text, const std::filesystem::path& file,
                                 const std::filesystem::path& intermediate_root);

}  // namespace steppar
