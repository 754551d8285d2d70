#include "steppar/project.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/spec.hpp"
#include "steppar/state_folder.hpp"
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
    // Before anything is read from or written to it: the state folder holds no user file.
    check_state_folder(state, file, project->pipeline_.catalog());
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

    // A file a node writes must not be the pipeline file, a plugin or a folder: a run would
    // overwrite the one, or fail late on the other.
    const Pipeline& pipeline = project->pipeline_;
    for (const auto& [name, d] : pipeline.catalog().all()) {
        if (d.partitioned() || pipeline.producers(name).empty()) continue;
        const fs::path target = resolved_path(d.path);
        std::error_code ec;
        if (target == resolved_path(file))
            throw SpecError(file.string(), d.line, "output '" + name + "' (" + d.path.string() + ") is the pipeline file itself: a run would overwrite it; give it another path");
        if (fs::is_directory(target, ec))
            throw SpecError(file.string(), d.line, "output '" + name + "' (" + d.path.string() + ") is a folder: a file dataset's path names a file (or make it type: partitioned)");
        for (const auto& plugin : parsed.plugins) {
            fs::path plugin_file;
            try {
                plugin_file = project->plugins_->file(plugin.alias);
            } catch (const Error&) {
                continue;  // not found: said when it is loaded
            }
            if (target == resolved_path(plugin_file))
                throw SpecError(file.string(), d.line, "output '" + name + "' (" + d.path.string() + ") is the file of plugin '" + plugin.alias +
                                                           "': a run would overwrite it; give it another path");
        }
    }

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
