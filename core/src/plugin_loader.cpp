// The only translation unit that includes Boost.DLL's loader headers.
#include "steppar/plugin_loader.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/hash.hpp"
#include "steppar/linked_libraries.hpp"
#include "steppar/text.hpp"

#include <boost/dll/library_info.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <cstdlib>
#include <sstream>
#include <sys/stat.h>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

struct PluginRegistry::Loaded {
    fs::path path;
    boost::dll::shared_library library;
    const PluginDescriptor* descriptor = nullptr;
    std::map<std::string, const NodeDescriptor*> nodes;
};

PluginRegistry::PluginRegistry(std::vector<fs::path> search_path) : search_path_(std::move(search_path)) {}

// Plugins stay loaded until the process exits (see the header): their handles move to a
// process-wide list instead of being closed, which also keeps them visible to leak checkers.
PluginRegistry::~PluginRegistry() {
    static auto* kept_open = new std::vector<std::unique_ptr<Loaded>>;  // never destroyed: no dlclose at exit
    for (auto& [_, loaded] : loaded_) kept_open->push_back(std::move(loaded));
}

std::vector<fs::path> PluginRegistry::default_search_path() {
    std::vector<fs::path> dirs;
    if (const char* env = std::getenv("STEPPAR_PLUGIN_PATH")) {
        std::stringstream list(env);
        for (std::string dir; std::getline(list, dir, ':');)
            if (!dir.empty()) dirs.emplace_back(dir);
    }
    boost::dll::fs::error_code ec;
    const fs::path exe = boost::dll::program_location(ec);
    if (!ec) dirs.push_back((exe.parent_path() / ".." / "lib" / "steppar" / "plugins").lexically_normal());
    return dirs;
}

void PluginRegistry::declare(const std::string& alias, const std::string& reference, const fs::path& base_dir) {
    declared_[alias] = {reference, base_dir};
}

namespace {

// A plugin is code this run executes: one that every user could replace (a world-writable file,
// or one in a world-writable folder without the sticky bit) would run anyone's code as this user.
fs::path trusted_plugin(const std::string& alias, const fs::path& path) {
    struct stat st {};
    const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
    for (const auto& [what, p] : {std::pair<const char*, fs::path>{"file", path}, {"folder", folder}})
        if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IWOTH) && !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)))
            throw PluginError("plugin '" + alias + "': its " + what + " '" + p.string() +
                              "' is writable by every user, who could make this run execute their code; run 'chmod o-w " + p.string() +
                              "' or move the plugin");
    return path;
}

}  // namespace

fs::path PluginRegistry::file(const std::string& alias) {
    const auto it = declared_.find(alias);
    if (it == declared_.end()) {
        std::vector<std::string> names;
        for (const auto& [name, _] : declared_) names.push_back(name);
        throw PluginError("unknown plugin '" + alias + "'" + suggestion(alias, names) + "; declare it under 'plugins:'");
    }
    const auto& [reference, base] = it->second;
    const bool is_path = reference.find('/') != std::string::npos || fs::path(reference).extension() == ".so";
    if (is_path) {
        fs::path path = fs::path(reference).is_absolute() ? fs::path(reference) : base / reference;
        std::error_code ec;
        if (!fs::exists(path, ec))
            throw PluginError("plugin '" + alias + "': file '" + path.string() + "' " +
                              (ec ? "cannot be reached: " + ec.message() + " (check the permissions of its folders)" : "does not exist"));
        return trusted_plugin(alias, path);
    }
    std::vector<std::string> tried;
    for (const auto& dir : search_path_) {
        // A relative folder names another place from every working directory (cron's is /).
        if (dir.is_relative())
            throw PluginError("plugin '" + alias + "': STEPPAR_PLUGIN_PATH holds the relative folder '" + dir.string() +
                              "', which would name another folder from each working directory; give absolute folders only");
        for (const auto& name : {reference + ".so", "lib" + reference + ".so"}) {
            const fs::path candidate = dir / name;
            std::error_code ec;  // a folder of the path we may not enter is a folder without it
            if (fs::exists(candidate, ec)) return trusted_plugin(alias, candidate);
            tried.push_back(candidate.string() + (ec ? " (" + ec.message() + ")" : ""));
        }
    }
    throw PluginError("plugin '" + alias + "': '" + reference + "' not found (looked for " + join(tried) +
                      "; set STEPPAR_PLUGIN_PATH or give a path)");
}

namespace {

// "by GCC 12.2.0 with libstdc++": how a toolchain is named in messages.
std::string toolchain_text(const Toolchain& t) {
    return std::string(t.cxx_library ? t.cxx_library : "?") + " (" + (t.compiler ? t.compiler : "?") + ")";
}

// The differences that make a plugin unusable: another C++ library or ABI switch, or another
// size of a type that crosses the boundary. The compiler alone is no reason.
std::vector<std::string> toolchain_differences(const Toolchain& plugin, const Toolchain& host) {
    std::vector<std::string> differences;
    if (std::string(plugin.cxx_library ? plugin.cxx_library : "") != host.cxx_library) differences.push_back("another C++ library or ABI");
    const std::pair<const char*, std::uint32_t Toolchain::*> sizes[] = {
        {"void*", &Toolchain::sizeof_pointer},           {"std::size_t", &Toolchain::sizeof_size_t},
        {"long long", &Toolchain::sizeof_long_long},     {"std::string", &Toolchain::sizeof_string},
        {"std::string_view", &Toolchain::sizeof_string_view}, {"std::vector", &Toolchain::sizeof_vector},
        {"std::ostream", &Toolchain::sizeof_ostream},    {"std::exception_ptr", &Toolchain::sizeof_exception_ptr}};
    for (const auto& [type, member] : sizes)
        if (plugin.*member != host.*member)
            differences.push_back(std::string("sizeof(") + type + ") " + std::to_string(plugin.*member) + " against " +
                                  std::to_string(host.*member));
    return differences;
}

}  // namespace

PluginRegistry::Loaded& PluginRegistry::load(const std::string& alias) {
    if (auto it = loaded_.find(alias); it != loaded_.end()) return *it->second;
    auto loaded = std::make_unique<Loaded>();
    loaded->path = file(alias);
    const std::string where = "plugin '" + alias + "' (" + loaded->path.string() + ")";
    const std::string rebuild = " (rebuild the plugin against this steppar: steppar_add_plugin, or the SDK headers it installs)";

    // Unreadable is not "not a shared library": say which, with the reason.
    if (::access(loaded->path.c_str(), R_OK) != 0)
        throw PluginError(where + " cannot be read: " + std::strerror(errno) + " (check the file's permissions)");
    std::vector<std::string> old_symbols;  // what plugins built before SDK ABI 5 export
    try {
        boost::dll::library_info info(loaded->path);
        old_symbols = info.symbols("steppar");
    } catch (const std::exception&) {
        throw PluginError(where + " is not a shared library (build it with steppar_add_plugin)");
    }
    try {
        loaded->library.load(loaded->path, boost::dll::load_mode::rtld_now);
    } catch (const std::exception& e) {
        throw PluginError(where + " cannot be loaded: " + e.what());
    }
    if (!loaded->library.has("steppar_plugin_descriptor")) {
        // SDK ABI 1-4: one "steppar_node_NAME" pointer per node in the section "steppar", its
        // descriptor starting with the ABI version.
        for (const auto& symbol : old_symbols) {
            if (symbol.rfind("steppar_node_", 0) != 0 || !loaded->library.has(symbol)) continue;
            const auto* old = static_cast<const std::uint32_t*>(loaded->library.get<const void*>(symbol));
            throw PluginError(where + " was built against steppar SDK ABI " + std::to_string(*old) + ", this steppar-host needs ABI " +
                              std::to_string(STEPPAR_SDK_ABI_VERSION) + rebuild);
        }
        throw PluginError(where + " exports no steppar nodes (export functions with STEPPAR_NODE)");
    }
    const auto entry = loaded->library.get<const PluginDescriptor*()>("steppar_plugin_descriptor");
    const PluginDescriptor* descriptor = entry();
    if (!descriptor) throw PluginError(where + " returned no plugin descriptor" + rebuild);
    // The first two members are the same in every ABI; nothing else is read before they match.
    if (descriptor->abi_version != STEPPAR_SDK_ABI_VERSION)
        throw PluginError(where + " was built against steppar SDK ABI " + std::to_string(descriptor->abi_version) +
                          ", this steppar-host needs ABI " + std::to_string(STEPPAR_SDK_ABI_VERSION) + rebuild);
    if (descriptor->size != sizeof(PluginDescriptor))
        throw PluginError(where + " has a plugin descriptor of " + std::to_string(descriptor->size) + " bytes, this steppar-host's has " +
                          std::to_string(sizeof(PluginDescriptor)) + " for the same ABI " + std::to_string(STEPPAR_SDK_ABI_VERSION) +
                          " (its SDK headers were modified)" + rebuild);
    const Toolchain host = this_toolchain();
    if (const auto differences = toolchain_differences(descriptor->toolchain, host); !differences.empty())
        throw PluginError(where + " was built with " + toolchain_text(descriptor->toolchain) + ", this steppar-host with " +
                          toolchain_text(host) + " (" + join(differences) +
                          "); std::string, vectors and exceptions cross the plugin boundary, so rebuild the plugin with the same "
                          "C++ library and ABI switches as steppar (steppar_add_plugin does; no -D_GLIBCXX_USE_CXX11_ABI=0, "
                          "-D_GLIBCXX_DEBUG or -stdlib=libc++)");
    loaded->descriptor = descriptor;
    for (auto entry_at = descriptor->nodes_begin; entry_at && entry_at < descriptor->nodes_end; ++entry_at) {
        const NodeDescriptor* node = *entry_at;
        if (!node || !node->name || !*node->name) continue;
        const bool callable = (node->kind == NodeKind::partition && node->partition_function) ||
                              (node->kind == NodeKind::whole && node->whole_function);
        if (!callable) throw PluginError(where + ": node '" + node->name + "' has no function of its kind" + rebuild);
        if (!loaded->nodes.emplace(node->name, node).second)
            throw PluginError(where + " exports node '" + node->name + "' twice (two STEPPAR_NODE of one name; rename one)");
    }
    if (loaded->nodes.empty())
        throw PluginError(where + " exports no steppar nodes (export functions with STEPPAR_NODE)");
    return *loaded_.emplace(alias, std::move(loaded)).first->second;
}

const PluginDescriptor& PluginRegistry::descriptor(const std::string& plugin) { return *load(plugin).descriptor; }

const std::string& PluginRegistry::digest(const std::string& plugin) {
    auto it = digests_.find(plugin);
    if (it == digests_.end()) {
        Loaded& loaded = load(plugin);
        std::string digest = sha256_hex(read_file(loaded.path));
        // And the project's own libraries it links (a rebuilt helper changes what it computes),
        // by file name: moving the project folder changes nothing.
        const auto libraries = project_libraries_of(loaded.library.native());
        if (!libraries.empty()) {
            std::string all = digest;
            for (const auto& library : libraries) all += "\n" + library.filename().string() + "\t" + sha256_hex(read_file(library));
            digest = sha256_hex(all);
        }
        it = digests_.emplace(plugin, std::move(digest)).first;
    }
    return it->second;
}

const NodeDescriptor& PluginRegistry::function(const std::string& plugin, const std::string& function) {
    Loaded& loaded = load(plugin);
    const auto it = loaded.nodes.find(function);
    if (it == loaded.nodes.end()) {
        std::vector<std::string> names;
        for (const auto& [name, _] : loaded.nodes) names.push_back(name);
        throw PluginError("plugin '" + plugin + "' has no function '" + function + "'" + suggestion(function, names));
    }
    return *it->second;
}

}  // namespace steppar
