#include "lifecycle.hpp"

#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <algorithm>

namespace steppar {

// What setup and teardown see: the step, and the params every node of the plugin in the unit lists.
class StepLifecycle::Context final : public SliceContext {
public:
    Context(std::string step, std::string unit, int slice, int slice_count, JsonFields params, std::string who)
        : step_(std::move(step)), unit_(std::move(unit)), slice_(slice), slice_count_(slice_count), params_(std::move(params)),
          who_(std::move(who)) {}
    const std::string& step() const override { return step_; }
    const std::string& unit() const override { return unit_; }
    int slice() const override { return slice_; }
    int slice_count() const override { return slice_count_; }
    const Params& params() const override { return params_; }
    void write_log(LogLevel level, std::string_view message) override { node_log(level, message, who_, {}); }

private:
    std::string step_, unit_;
    int slice_, slice_count_;
    JsonFields params_;
    std::string who_;
};

StepLifecycle::StepLifecycle(Project& project, const Unit& unit, std::string step, int slice, int slice_count) {
    const Pipeline& pipeline = project.pipeline();
    for (const auto& node : unit.nodes) {
        const std::string& alias = node.function.plugin;
        if (std::any_of(plugins_.begin(), plugins_.end(), [&](const Plugin& p) { return p.alias == alias; })) continue;
        const PluginDescriptor& descriptor = project.plugins().descriptor(alias);
        if (!descriptor.setup && !descriptor.teardown) continue;
        std::map<std::string, std::string> params;  // what this plugin's nodes in the unit list
        for (const auto& n : unit.nodes)
            if (n.function.plugin == alias)
                for (const auto& in : n.inputs)
                    if (Node::is_param(in)) params[Node::param_name(in)] = pipeline.params().find(Node::param_name(in))->second;
        JsonFields fields(std::move(params), "parameter", "is not listed by any node of plugin '" + alias + "' in '" + unit.name + "'");
        auto context = std::make_unique<Context>(step, unit.name, slice, slice_count, std::move(fields), alias);
        plugins_.push_back({alias, &descriptor, std::move(context)});
    }
}

StepLifecycle::~StepLifecycle() {
    if (const std::string error = tear_down(); !error.empty()) warn(error);
}

void StepLifecycle::set_up() {
    if (started_) return;
    started_ = true;
    for (; set_up_ < plugins_.size(); ++set_up_) {
        Plugin& plugin = plugins_[set_up_];
        if (!plugin.descriptor->setup) continue;
        try {
            plugin.descriptor->setup(*plugin.context);
        } catch (...) {
            throw std::runtime_error("setup of plugin '" + plugin.alias + "' failed: " + describe_failure(std::current_exception()));
        }
    }
}

std::string StepLifecycle::tear_down() {
    std::vector<std::string> errors;
    while (set_up_ > 0) {
        Plugin& plugin = plugins_[--set_up_];
        if (!plugin.descriptor->teardown) continue;
        try {
            plugin.descriptor->teardown(*plugin.context);
        } catch (...) {
            errors.push_back("teardown of plugin '" + plugin.alias + "' failed: " + describe_failure(std::current_exception()));
        }
    }
    return errors.empty() ? std::string() : join(errors, "; ");
}

}  // namespace steppar
