// Starting the programs steppar runs itself (sbatch, squeue, scancel, scontrol, Graphviz's dot):
// always an argv, never a shell string, so a path or a job name with a space or a quote is
// passed as it is. The only other way steppar starts processes is the runners' (a step's
// process: the fork server's children, or `--launch exec`, executor.hpp).
//
//   const ProgramResult r = run_program({"squeue", "-h", "-j", "61,62", "-o", "%i|%T"});
//   if (r.exit_code != 0) ... r.error ...
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

struct ProgramResult {
    int exit_code = -1;  ///< 128 + N when a signal N ended it
    std::string output;  ///< its stdout
    std::string error;   ///< its stderr
};

/// Runs `argv[0]` (looked up on PATH) with `argv`, `input` on its stdin, and waits for it.
/// Throws StateError when it cannot be started (not installed, not executable).
ProgramResult run_program(const std::vector<std::string>& argv, std::string_view input = {});

/// Whether `program` is an executable file on PATH.
bool on_path(std::string_view program);

/// How a component runs programs: run_program, or a fake in tests.
using ProgramRunner = std::function<ProgramResult(const std::vector<std::string>& argv, std::string_view input)>;

}  // namespace steppar
