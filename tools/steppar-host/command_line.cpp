#include "command_line.hpp"

#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/log.hpp>
#include <steppar/text.hpp>

#include <iostream>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar::cli {

namespace {
bool logging_installed = false;
}  // namespace

void install_logging_for_early_errors(int argc, char** argv) {
    if (logging_installed) return;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool json = arg == "--log-format=json" || (arg == "--log-format" && i + 1 < argc && std::string(argv[i + 1]) == "json");
        if (json) set_events(make_event_sink(LogFormat::json, STDERR_FILENO));
    }
}

void install_logging(const std::string& command, const Parsed& parsed) {
    logging_installed = true;
    set_quiet(parsed.values["quiet"].as<bool>());
    if (parsed.values["report-to-host"].as<bool>()) {
        set_events(make_child_reporter(report_channel(STDERR_FILENO)));
        return;
    }
    // Only a local run has a display worth animating; Slurm's progress is its log lines.
    // (--quiet asks for warnings and errors only: no display either.)
    const bool animate = command == "run" && !parsed.values["quiet"].as<bool>() &&
                         !(parsed.values.count("runner") && parsed.values["runner"].as<std::string>() == "slurm");
    const LogFormat format = parse_log_format(parsed.values["log-format"].as<std::string>(), STDERR_FILENO, animate);
    if (format == LogFormat::live && !animate)
        throw UsageError("--log-format live is for 'run' with a local runner and without --quiet; use plain or json here");
    set_events(make_event_sink(format, STDERR_FILENO));
}

// Every command takes the pipeline file as its first positional argument and --state-dir.
Parsed parse(const std::string& command, const std::string& summary, po::options_description options, int argc,
             char** argv) {
    options.add_options()("state-dir", po::value<std::string>(),
                          "state folder for slice plans, markers and intermediate datasets "
                          "(default: .steppar/ beside the pipeline file)")(
        "param", po::value<std::vector<std::string>>()->composing(),
        "NAME=VALUE: override a param of the pipeline file (VALUE as JSON: 5, true, [1,2], \"x\"; other text is a "
        "string); repeatable")(
        "quiet,q", po::bool_switch(), "print only warnings and errors")(
        "log-format", po::value<std::string>()->default_value("auto"),
        "how progress and messages look on stderr: plain (timestamped lines), json (one object per event), "
        "live (a progress display, run only); auto: live for run on a terminal, plain otherwise")(
        "help,h", po::bool_switch(), "show this help");
    po::options_description hidden;
    hidden.add_options()("pipeline", po::value<std::string>())(
        "report-to-host", po::bool_switch(), "a step's process run by a host: framed events on stderr");
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description positional;
    positional.add("pipeline", 1);
    if (options.find_nothrow("path", false)) positional.add("path", 1);  // `why PIPELINE PATH`
    if (options.find_nothrow("run", false)) positional.add("run", 1);    // `report PIPELINE RUN`

    Parsed parsed;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), parsed.values);
    } catch (const po::unknown_option& e) {
        // A close name gets a "did you mean": the command's options, then everyone's.
        std::vector<std::string> names;
        for (const auto& option : options.options()) names.push_back("--" + option->long_name());
        const std::string given = e.get_option_name().substr(0, e.get_option_name().find('='));
        const std::string close = nearest(given, names);
        throw UsageError(command + ": unrecognised option '" + given + "'" + (close.empty() ? "" : " (did you mean '" + close + "'?)") +
                         "; see 'steppar-host " + command + " --help'");
    }
    if (parsed.values.count("help") && parsed.values["help"].as<bool>()) {
        std::cout << "Usage: steppar-host " << command << " PIPELINE [OPTIONS]\n\n" << summary << "\n\n" << options;
        parsed.help = true;
        return parsed;
    }
    po::notify(parsed.values);  // after --help, so help never fails on a missing required option
    if (!parsed.values.count("pipeline"))
        throw UsageError(command + ": missing PIPELINE (the pipeline file, .yml or .json)");
    install_logging(command, parsed);
    return parsed;
}

std::vector<std::string> param_overrides(const Parsed& parsed) {
    return parsed.values.count("param") ? parsed.values["param"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::unique_ptr<Project> open_project(const Parsed& parsed) {
    std::optional<fs::path> state;
    if (parsed.values.count("state-dir")) state = parsed.values["state-dir"].as<std::string>();
    return Project::open(parsed.values["pipeline"].as<std::string>(), state, param_overrides(parsed));
}

std::string text_or_json(const Parsed& parsed) {
    const auto format = parsed.values["format"].as<std::string>();
    if (format != "text" && format != "json") throw UsageError("unknown --format '" + format + "'" + suggestion(format, {"text", "json"}));
    return format;
}

const Unit& replicated_unit(Project& project, const Parsed& parsed) {
    const Unit& unit = project.pipeline().unit(parsed.values["node"].as<std::string>());
    if (!unit.replicated()) throw UsageError("'" + unit.name + "' is a plain node, not a multinode: use run-node");
    return unit;
}

std::string host_program() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw StateError("cannot find steppar-host's own file (/proc/self/exe): " + ec.message());
    return self.string();
}

}  // namespace steppar::cli
