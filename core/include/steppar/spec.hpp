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
//
// Limits: a mistaken or hostile file is refused quickly (exit 2) rather than hanging steppar,
// eating memory or writing a million plan files.
#pragma once

#include "steppar/pipeline.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

namespace limits {
/// A bigger pipeline file is refused before it is read: yaml-cpp takes up to ~300 MB and 1.5 s
/// per MiB of text (a list of short values), and a pipeline file is a few KiB.
inline constexpr std::uintmax_t max_file_bytes = 2u << 20;
/// Lists and mappings inside each other, counted through aliases; deeper is refused.
inline constexpr int max_nesting = 100;
/// Values in the file (lists, mappings, single values, keys included), counted before the YAML
/// tree is built, and counting what an alias (`*name`) stands for at every use: a few hundred
/// bytes of nested aliases can otherwise expand to billions ("billion laughs").
inline constexpr std::size_t max_values = 100000;
/// `timeout:` at most 30 days.
inline constexpr double max_timeout_seconds = 30.0 * 24 * 3600;
/// `retries:` at most this.
inline constexpr int max_retries = 1000;
/// Slices per multinode or multipipeline (each is a process, a plan part and a marker), unless
/// STEPPAR_MAX_SLICES says otherwise.
inline constexpr int default_max_slices = 10000;
/// Steps of the expanded pipeline (slicers, slices, barriers, plain nodes), unless
/// STEPPAR_MAX_STEPS says otherwise.
inline constexpr int default_max_steps = 100000;
/// A temporary file (temporary_files.hpp) unchanged this many hours is stale whoever wrote it,
/// unless STEPPAR_STALE_TEMPORARY_HOURS says otherwise: the only rule for another machine's.
inline constexpr int default_stale_temporary_hours = 24;
/// Traces of runs kept in <state>/traces/ (run_trace.hpp), unless STEPPAR_KEEP_TRACES says
/// otherwise (0: no default trace at all).
inline constexpr int default_kept_traces = 20;
}  // namespace limits

/// The slice limit: STEPPAR_MAX_SLICES when set (read once per process), else the default.
/// Throws UsageError when the variable is not a whole number >= 1.
int max_slices();
/// The step limit: STEPPAR_MAX_STEPS when set (read once per process), else the default.
int max_steps();
/// The age of a stale temporary in hours: STEPPAR_STALE_TEMPORARY_HOURS when set (read once per
/// process), else the default. Throws UsageError as max_slices() does.
int stale_temporary_hours();
/// How many traces of runs a state folder keeps: STEPPAR_KEEP_TRACES when set (read once per
/// process; 0 turns the default trace off), else the default. Throws UsageError when the
/// variable is set but not a whole number >= 0.
int kept_traces();
/// What `slices: auto` means: machines x workers per machine, as kedro-partitioned's default
/// n_slices (MAX_NODES x MAX_WORKERS). Machines: STEPPAR_NODES, else MAX_NODES, else 1. Workers:
/// STEPPAR_WORKERS, else MAX_WORKERS, else the cores this process may use (usable_cores.hpp:
/// affinity and cgroup quota, not the machine's count). Throws UsageError naming a variable that
/// is set but not a whole number >= 1.
int auto_slices();

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
