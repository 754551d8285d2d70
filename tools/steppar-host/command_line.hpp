// The command line every command of steppar-host shares: the pipeline file as the first
// positional argument, --state-dir, --param, --quiet and --log-format, and --help.
//
//   po::options_description options("Options");
//   options.add_options()("force", po::bool_switch(), "...");
//   const Parsed parsed = parse("plan", "Dry run: ...", options, argc, argv);
//   if (parsed.help) return 0;
//   auto project = open_project(parsed);
#pragma once

#include <steppar/project.hpp>

#include <boost/program_options.hpp>

#include <memory>
#include <string>
#include <vector>

namespace steppar::cli {

namespace po = boost::program_options;

struct Parsed {
    po::variables_map values;
    bool help = false;
};


/// Parses `argv` (argv[0] is the command) with the command's `options` and the shared ones; on
/// --help prints the usage with `summary` and returns with `help` set. Then installs logging
/// (install_logging). Throws UsageError or boost::program_options::error for bad usage.
Parsed parse(const std::string& command, const std::string& summary, po::options_description options, int argc, char** argv);

/// Sets this process's event sink and quietness as the parsed options ask.
void install_logging(const std::string& command, const Parsed& parsed);

/// For an error raised before a command installed logging (an unknown option, a missing
/// PIPELINE): installs the sink --log-format asks for if it is json, so even that error is one
/// JSON event. Does nothing once install_logging() ran.
void install_logging_for_early_errors(int argc, char** argv);

/// The --param overrides, in order.
std::vector<std::string> param_overrides(const Parsed& parsed);

/// Opens the pipeline file (with --state-dir and --param): every static check happens here.
std::unique_ptr<Project> open_project(const Parsed& parsed);

/// --format text|json, checked.
std::string text_or_json(const Parsed& parsed);

/// This steppar-host's own file (what runners and exported jobs start again), as the kernel
/// knows it (/proc/self/exe).
std::string host_program();

/// The multinode or multipipeline --node names; UsageError for a plain node.
const Unit& replicated_unit(Project& project, const Parsed& parsed);

}  // namespace steppar::cli
