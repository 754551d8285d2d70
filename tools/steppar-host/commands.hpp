// The commands of steppar-host: one function each, and the one table that names them. Dispatch,
// the usage text and "did you mean" all read the table, so a new command is one line here and
// one in command_table.cpp (and its section in README's CLI reference).
#pragma once

#include <string>
#include <vector>

namespace steppar::cli {

/// A command: takes its own argv (argv[0] is the command), returns the exit code, throws
/// steppar::Error or boost::program_options::error for bad usage.
using CommandFunction = int (*)(int argc, char** argv);

struct Command {
    const char* name;
    const char* summary;  ///< one line for the usage text
    CommandFunction run;
};

/// Every command, in the order the usage text lists them.
const std::vector<Command>& commands();

/// Runs `command` with its own argv; UsageError (with a suggestion) for an unknown one.
int dispatch(const std::string& command, int argc, char** argv);

/// The text `steppar-host --help` prints.
std::string usage();

// run_commands.cpp
int run_command(int argc, char** argv);
int run_slice_command(int argc, char** argv);
int run_node_command(int argc, char** argv);
int run_slicer_command(int argc, char** argv);
int check_barrier_command(int argc, char** argv);
// export_command.cpp
int export_command(int argc, char** argv);
// inspect_commands.cpp
int graph_command(int argc, char** argv);
int nodes_command(int argc, char** argv);
int validate_command(int argc, char** argv);
int plan_command(int argc, char** argv);
// state_commands.cpp
int status_command(int argc, char** argv);
int why_command(int argc, char** argv);
int report_command(int argc, char** argv);
int watch_command(int argc, char** argv);
int clean_command(int argc, char** argv);
// new_plugin.cpp
int new_plugin_command(int argc, char** argv);

}  // namespace steppar::cli
