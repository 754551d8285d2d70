// A project: one pipeline file opened for running. Holds the validated pipeline, its plugins
// and its state folder: everything a runner or a slice process needs.
//
//   auto project = steppar::Project::open("pipeline.yml", std::nullopt);
//   steppar::run_slice(*project, project->pipeline().unit("count"), 3);
#pragma once

#include "steppar/pipeline.hpp"
#include "steppar/plugin_loader.hpp"
#include "steppar/state.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace steppar {

class Project {
public:
    /// Parses and validates `pipeline_file` and checks that its source datasets exist. The state
    /// folder defaults to `.steppar/` beside the pipeline file. `params` ("name=value", value as
    /// JSON, or a plain string when it is not JSON) override the file's params before
    /// validation. Throws SpecError/PluginError, UsageError for a bad override.
    static std::unique_ptr<Project> open(const std::filesystem::path& pipeline_file,
                                         const std::optional<std::filesystem::path>& state_dir,
                                         const std::vector<std::string>& params = {});

    const std::filesystem::path& pipeline_file() const noexcept { return pipeline_file_; }
    const StateLayout& state() const noexcept { return state_; }
    const Pipeline& pipeline() const noexcept { return pipeline_; }
    PluginRegistry& plugins() noexcept { return *plugins_; }
    const NodeDescriptor& function(const Node& node);

private:
    Project(std::filesystem::path file, StateLayout state);

    std::filesystem::path pipeline_file_;
    StateLayout state_;
    std::unique_ptr<PluginRegistry> plugins_;
    Pipeline pipeline_;
};

}  // namespace steppar
