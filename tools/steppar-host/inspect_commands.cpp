// The commands that look without running: graph, nodes, validate and plan.
#include "commands.hpp"

#include "command_line.hpp"
#include "graph_picture.hpp"
#include "graphviz.hpp"
#include "unit_view.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/expand.hpp>
#include <steppar/plugin_loader.hpp>

#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/log.hpp>
#include <steppar/text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace steppar::cli {

int graph_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("format", po::value<std::string>()->default_value("text"),
                          "text (one step per line), mermaid or dot (a picture with the datasets), "
                          "svg or png (the dot picture drawn by Graphviz, if installed)")(
        "output,o", po::value<std::string>()->default_value(""), "write to this file (whole or not at all) instead of stdout");
    const auto parsed = parse("graph", "Prints the expanded graph, one step per line: kind, name, dependencies.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = parsed.values["format"].as<std::string>();
    const auto output = parsed.values["output"].as<std::string>();
    const std::vector<std::string> formats = {"text", "mermaid", "dot", "svg", "png"};
    if (std::find(formats.begin(), formats.end(), format) == formats.end())
        throw UsageError("unknown --format '" + format + "'" + suggestion(format, formats) + " (text, mermaid, dot, svg or png)");
    if (format == "png" && output.empty() && ::isatty(STDOUT_FILENO))
        throw UsageError("graph --format png writes binary data: give --output FILE.png or redirect stdout");
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    std::string text;
    if (format == "text") {
        for (const auto& step : graph.steps) {
            std::vector<std::string> deps;
            for (const auto d : step.depends_on) deps.push_back(graph.steps[d].name);
            text += std::string(to_string(step.kind)) + "\t" + step.name + "\t<- " + (deps.empty() ? "-" : join(deps, ",")) +
                    "\t[" + join(Pipeline::tags(project->pipeline().units()[step.unit]), ",") + "]\n";
        }
    } else {
        const GraphPicture picture(project->pipeline(), graph);
        text = format == "mermaid" ? picture.mermaid() : picture.dot();
    }
    if (format == "svg" || format == "png") text = render_with_graphviz(text, format);
    if (output.empty()) {
        std::cout << text;
    } else {
        AtomicFile file(output);
        file.stream() << text;
        file.commit();
    }
    return 0;
}

int nodes_command(int argc, char** argv) {
    po::options_description options("Options");
    const auto parsed = parse("nodes", "Lists each node of the pipeline with its function, kind and plugin file.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    for (const auto& unit : project->pipeline().units())
        for (const auto& n : unit.nodes) {
            const auto& fn = project->function(n);
            std::cout << n.name << "\t" << n.function.text() << "\t"
                      << (fn.kind == NodeKind::partition ? "partition" : "whole") << "\t"
                      << project->plugins().file(n.function.plugin).string() << "\n";
        }
    return 0;
}

int validate_command(int argc, char** argv) {
    po::options_description options("Options");
    const auto parsed = parse("validate",
                              "Checks the pipeline without running anything: the file's syntax and keys, every "
                              "plugin loadable with the right SDK ABI, every function present and of the right "
                              "kind, datasets, params and configurators, a DAG with one producer per dataset, "
                              "source folders present. Exit 0 when valid, 2 with the first problem otherwise.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);  // every static check happens here
    const ExpandedGraph graph = expand(project->pipeline());
    std::size_t nodes = 0;
    for (const auto& unit : project->pipeline().units()) nodes += unit.nodes.size();
    std::cout << project->pipeline_file().string() << ": valid (" << nodes << " node(s) in "
              << project->pipeline().units().size() << " unit(s), " << graph.steps.size() << " steps)\n";
    // The plugins it uses, as their descriptors name them: which build is about to run.
    std::set<std::string> aliases;
    for (const auto& unit : project->pipeline().units())
        for (const auto& n : unit.nodes) aliases.insert(n.function.plugin);
    for (const auto& alias : aliases) {
        const PluginDescriptor& d = project->plugins().descriptor(alias);
        const fs::path file = project->plugins().file(alias);
        std::vector<std::string> hooks;
        if (d.setup) hooks.push_back("setup");
        if (d.teardown) hooks.push_back("teardown");
        std::cout << "  plugin '" << alias << "': " << (*d.name ? d.name : file.stem().string().c_str()) << " "
                  << (*d.version ? d.version : "(unversioned)") << ", " << (d.nodes_end - d.nodes_begin) << " node(s)"
                  << (hooks.empty() ? "" : ", " + join(hooks, " and ")) << "; SDK " << d.sdk_version << ", "
                  << d.toolchain.cxx_library << ", " << d.toolchain.compiler << "; " << file.string() << "\n";
    }
    return 0;
}

namespace {

// One step of `plan`: what it is, what it waits for, and for a slice which partitions it would
// run if the pipeline ran now ("?" where an upstream step must run first).
struct PlannedStep {
    const Step& step;
    std::vector<std::string> depends_on;
    const std::vector<std::string>* to_run = nullptr;  // slices and plain partition nodes
    const Assessment* assessment = nullptr;            // slicers and plain partition nodes
    bool unknown = false;
};

}  // namespace

int plan_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("format", po::value<std::string>()->default_value("text"), "text or json")(
        "partitions", po::value<std::string>()->default_value(""), "as for run: hand out only partitions matching this regex");
    const auto parsed = parse("plan",
                              "Dry run: prints the expanded graph in execution order and, for each slice, the "
                              "partitions it would run now (only the new and changed ones). Writes nothing.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = text_or_json(parsed);
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    const Pipeline& pipeline = project->pipeline();
    std::map<std::size_t, std::optional<PlannedUnit>> plans;
    for (std::size_t u = 0; u < pipeline.units().size(); ++u)
        if (over_partitions(*project, pipeline.units()[u])) plans[u] = plan_now(*project, graph, u, parsed.values["partitions"].as<std::string>());
    std::vector<PlannedStep> steps;
    for (const auto& step : graph.steps) {
        PlannedStep planned{step, {}};
        for (const auto d : step.depends_on) planned.depends_on.push_back(graph.steps[d].name);
        if (const auto it = plans.find(step.unit); it != plans.end() && step.kind != StepKind::barrier) {
            planned.unknown = !it->second;
            if (it->second) {
                if (step.kind == StepKind::slice) planned.to_run = &it->second->plan.slices[static_cast<std::size_t>(step.slice)];
                if (step.kind == StepKind::node) planned.to_run = &it->second->plan.slices[0];
                if (step.kind != StepKind::slice) planned.assessment = &it->second->assessment;
            }
        }
        steps.push_back(std::move(planned));
    }
    if (format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& p : steps) {
            nlohmann::json j = {{"kind", to_string(p.step.kind)}, {"name", p.step.name},
                                {"unit", pipeline.units()[p.step.unit].name}, {"depends_on", p.depends_on}};
            if (p.step.kind == StepKind::slice) j["slice"] = p.step.slice;
            if (p.to_run || p.assessment || p.unknown) {
                const auto* a = p.assessment;
                j["partitions"] = p.unknown ? nlohmann::json(nullptr)
                                  : p.to_run ? nlohmann::json(p.to_run->size())
                                             : nlohmann::json(a->dirty.size());
                if (p.to_run) j["to_run"] = *p.to_run;
                if (a) {
                    j["new"] = a->new_count;
                    j["changed"] = a->changed_count;
                    j["up_to_date"] = a->up_to_date;
                    std::vector<std::string> retract;
                    for (const auto& [name, _] : a->retract) retract.push_back(name);
                    j["retract"] = retract;
                    j["foreign"] = a->foreign;
                    nlohmann::json reasons = nlohmann::json::array();  // every partition, by reason code
                    for (const auto& r : reason_counts(*a, SIZE_MAX))
                        reasons.push_back({{"code", r.code}, {"count", r.count}, {"partitions", r.partitions}});
                    j["reasons"] = std::move(reasons);
                }
            }
            out.push_back(std::move(j));
        }
        std::cout << out.dump(1) << "\n";
        return 0;
    }
    for (const auto& p : steps) {
        std::string what;
        if (p.unknown) {
            what = "? partitions (known once its inputs exist)";
        } else if (p.assessment && !p.to_run) {
            what = count_text(p.assessment->dirty.size()) + " partition(s) to run: " + summary(*p.assessment);
        } else if (p.to_run) {
            what = count_text(p.to_run->size()) + " partition(s)" + (p.to_run->empty() ? "" : ": " + join_first(*p.to_run, 10));
            if (p.assessment) what += " (" + summary(*p.assessment) + ")";
        }
        std::cout << to_string(p.step.kind) << "\t" << p.step.name << "\t<- " << (p.depends_on.empty() ? "-" : join(p.depends_on, ","))
                  << (what.empty() ? "" : "\t" + what) << "\n";
        // Why, a line per reason code: how many partitions and up to 3 of them.
        if (p.assessment && p.step.kind != StepKind::slice)
            for (const auto& r : reason_counts(*p.assessment, 3))
                std::cout << "why\t" << pipeline.units()[p.step.unit].name << "\t" << r.code << "\t" << count_text(r.count) << "\t"
                          << join(r.partitions) << (r.count > r.partitions.size() ? ", ..." : "") << "\n";
    }
    return 0;
}

}  // namespace steppar::cli
