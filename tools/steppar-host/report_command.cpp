// `steppar-host report PIPELINE [RUN] [--html FILE] [--top N]`: how a run went, from its trace
// (run_report.hpp): the newest run by default, or a run id (or its start), or a trace file.
#include "commands.hpp"

#include "command_line.hpp"
#include "report_html.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/run_trace.hpp>
#include <steppar/text.hpp>

#include <iostream>

namespace steppar::cli {

int report_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("run", po::value<std::string>()->default_value(""),
                          "the run: its id or the start of it (see <state>/traces/), or a trace file; default: the newest run "
                          "(also the second argument)")(
        "html", po::value<std::string>()->default_value(""), "write the report as one self-contained HTML page to FILE")(
        "top", po::value<std::size_t>()->default_value(20), "how many of the slowest partitions to list");
    const auto parsed = parse("report",
                              "How a run went, from its trace: outcome, times, partitions by status, concurrency, each "
                              "unit's process time, CPU, peak memory and I/O, what was skipped or retracted and why, the "
                              "slowest partitions and the failures. Plain text on stdout, or with --html one page with the "
                              "pipeline graph and a timeline with one lane per slice.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const auto trace = find_trace(traces_dir(project->state()), parsed.values["run"].as<std::string>());
    ReportOptions report_options;
    report_options.top = parsed.values["top"].as<std::size_t>();
    const RunReport report = read_run_report(trace, report_options);
    const auto html = parsed.values["html"].as<std::string>();
    if (html.empty()) {
        std::cout << report_text(report);
        return 0;
    }
    const std::string page = report_html(report, project->pipeline(), parsed.values["pipeline"].as<std::string>());
    AtomicFile file(html);
    file.stream() << page;
    file.commit();
    std::cout << "report: " << html << " (" << bytes_text(page.size()) << ", run " << report.run << ", " << report.outcome() << ")\n";
    return 0;
}

}  // namespace steppar::cli
