#include "steppar/project.hpp"

#include "steppar/error.hpp"
#include "steppar/spec.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace steppar {

Project::Project(fs::path file, StateLayout state)
    : pipeline_file_(std::move(file)), state_(std::move(state)),
      plugins_(std::make_unique<PluginRegistry>(PluginRegistry::default_search_path())) {}

std::unique_ptr<Project> Project::open(const fs::path& pipeline_file, const std::optional<fs::path>& state_dir,
                                       const std::vector<std::string>& params) {
    const fs::path file = fs::absolute(pipeline_file).lexically_normal();
    const fs::path state = state_dir ? fs::absolute(*state_dir).lexically_normal() : file.parent_path() / ".steppar";
    std::unique_ptr<Project> project(new Project(file, StateLayout(state)));

    PipelineFile parsed = parse_pipeline_file(file, project->state_.intermediate_root());
    for (const auto& plugin : parsed.plugins) project->plugins_->declare(plugin.alias, plugin.reference, file.parent_path());
    project->pipeline_ = std::move(parsed.pipeline);
    for (const auto& assignment : params) {
        const auto equals = assignment.find('=');
        if (equals == std::string::npos || equals == 0)
            throw UsageError("--param '" + assignment + "' must be NAME=VALUE (VALUE as JSON, e.g. 5, true, [1,2], or plain text)");
        const std::string value = assignment.substr(equals + 1);
        // JSON when it parses as JSON (5, true, "x", [1]), else the text itself as a string.
        const auto json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
        if (!valid_utf8(value)) throw UsageError("--param '" + assignment + "' is not valid UTF-8");
        project->pipeline_.override_param(assignment.substr(0, equals), json.is_discarded() ? nlohmann::json(value).dump() : json.dump());
    }
    project->pipeline_.validate([&](const Node& n) { return project->function(n).kind; });

    // Source datasets (read but produced by no node) must exist before anything runs.
    for (const auto& unit : project->pipeline_.units())
        for (const auto& n : unit.nodes)
            for (const auto& in : n.inputs) {
                if (Node::is_param(in) || !project->pipeline_.producers(in).empty()) continue;
                const Dataset& d = project->pipeline_.catalog().at(in);
                std::error_code ec;
                const bool present = d.partitioned() ? fs::is_directory(d.path, ec) : fs::is_regular_file(d.path, ec);
                if (!present)
                    throw SpecError(file.string(), d.line,
                                    "input dataset '" + d.name + "': " + (d.partitioned() ? "folder '" : "file '") +
                                        d.path.string() + "' does not exist (create it or fix its path)");
            }
    return project;
}

const NodeDescriptor& Project::function(const Node& node) {
    return plugins_->function(node.function.plugin, node.function.function);
}

}  // namespace steppar
