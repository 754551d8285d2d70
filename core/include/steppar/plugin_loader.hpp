// Plugins: shared libraries whose nodes were exported with STEPPAR_NODE. The registry maps the
// aliases of the pipeline file's `plugins:` section to files, loads each at most once (and never
// unloads it: code and exception tables must outlive every call), checks its descriptor (SDK
// ABI version and size, the C++ library and the sizes of the types that cross) and hands out
// node descriptors.
//
//   PluginRegistry plugins(PluginRegistry::default_search_path());
//   plugins.declare("builtin", "steppar_builtin", pipeline_dir);
//   const NodeDescriptor& wc = plugins.function({"builtin", "wc"});
#pragma once

#include <steppar/sdk.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace steppar {

class PluginRegistry {
public:
    explicit PluginRegistry(std::vector<std::filesystem::path> search_path);
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    /// Declares `alias` for `reference`: a bare name ("steppar_builtin", found as NAME.so or
    /// libNAME.so on the search path) or a path (relative to `base_dir`).
    void declare(const std::string& alias, const std::string& reference, const std::filesystem::path& base_dir);

    /// The descriptor of `plugin.function`; loads the plugin on first use. Throws PluginError
    /// for an unknown alias, a file that is missing, not a shared library, exports no nodes,
    /// has another ABI version or toolchain, or lacks the function (listing the ones it has).
    const NodeDescriptor& function(const std::string& plugin, const std::string& function);

    /// The plugin's descriptor (name, version, toolchain, lifecycle functions); loads it on first
    /// use, with the checks of function().
    const PluginDescriptor& descriptor(const std::string& plugin);

    /// Where a declared plugin's file is (resolving it if needed).
    std::filesystem::path file(const std::string& plugin);

    /// SHA-256 of the plugin file's bytes (computed once): a rebuilt plugin reruns its slices.
    const std::string& digest(const std::string& plugin);

    /// $STEPPAR_PLUGIN_PATH (':'-separated) then <dir of steppar-host>/../lib/steppar/plugins.
    static std::vector<std::filesystem::path> default_search_path();

private:
    struct Loaded;
    Loaded& load(const std::string& alias);

    std::vector<std::filesystem::path> search_path_;
    std::map<std::string, std::pair<std::string, std::filesystem::path>> declared_;  // alias -> (reference, base)
    std::map<std::string, std::unique_ptr<Loaded>> loaded_;
    std::map<std::string, std::string> digests_;
};

}  // namespace steppar
