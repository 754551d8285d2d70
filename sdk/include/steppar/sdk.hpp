/// @file
/// steppar SDK: everything a node author includes. Build the reference with
/// `cmake --build build --target docs`.
//
// steppar SDK: everything a node author includes.
//
// A node is an ordinary C++ function exported with one macro. Two kinds exist:
//
//   // called once per partition: read its input file(s), write the same-named output partition
//   void word_count(steppar::PartitionContext& ctx) {
//       std::string text = ctx.input().read_text();
//       ctx.output().write(std::to_string(text.size()));
//   }
//   STEPPAR_NODE(word_count)
//
//   // called once: sees whole datasets (a partitioned one as its list of partitions)
//   void total(steppar::WholeContext& ctx) {
//       std::size_t n = 0;
//       for (const auto& part : ctx.input().partitions()) n += part.file.read_text().size();
//       ctx.output().write(std::to_string(n));
//   }
//   STEPPAR_NODE(total)
//
// The host (steppar-host) implements the contexts; a plugin only calls them. Every output is
// written atomically by the host (temporary file in the same folder, then rename), so a process
// killed at any instant never leaves a half-written partition.
//
// This header includes only the C++ standard library: no Boost, no JSON library (parameters
// arrive as typed scalars or as JSON text; steppar/json_io.hpp parses them with nlohmann_json).
//
// The plugin boundary. A plugin exports one C function, steppar_plugin_descriptor(), returning a
// PluginDescriptor: the SDK ABI version first (forever), the struct's size, the plugin's name
// and version, the toolchain it was built with (C++ library and its ABI switches, compiler,
// sizeof of every type that crosses) and its node table. The host checks all of it before it
// calls anything, and refuses a mismatch naming both sides. STEPPAR_NODE puts a node in the
// table; STEPPAR_SETUP/STEPPAR_TEARDOWN name the plugin's per-slice lifecycle functions.
#pragma once

#include <steppar/log_level.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// Bumped whenever anything a plugin sees through this header changes layout or meaning; the
/// host refuses a plugin built with another value. (Overridable only so tests can build a
/// deliberately incompatible plugin.)
#ifndef STEPPAR_SDK_ABI_VERSION
#define STEPPAR_SDK_ABI_VERSION 5
#endif

/// The C++ standard library a plugin is built with: std::string, vectors and exceptions cross
/// the plugin boundary, so the host refuses a plugin whose library differs from its own (libc++
/// against libstdc++, the old std::string ABI, debug containers).
#if defined(_LIBCPP_VERSION)
#define STEPPAR_SDK_CXX_LIBRARY "libc++"
#elif defined(_GLIBCXX_USE_CXX11_ABI) && !_GLIBCXX_USE_CXX11_ABI
#define STEPPAR_SDK_CXX_LIBRARY "libstdc++ with the old std::string ABI (_GLIBCXX_USE_CXX11_ABI=0)"
#else
#define STEPPAR_SDK_CXX_LIBRARY "libstdc++"
#endif
/// The debug-container mode of the C++ library (its containers have another layout), if any.
#if defined(_GLIBCXX_DEBUG)
#define STEPPAR_SDK_CXX_MODE " with debug containers (_GLIBCXX_DEBUG)"
#else
#define STEPPAR_SDK_CXX_MODE ""
#endif

/// The compiler a plugin is built with, as the host shows it (informational: GCC and Clang
/// builds against the same C++ library work together).
#if defined(__clang__)
#define STEPPAR_SDK_COMPILER "Clang " __clang_version__
#elif defined(__GNUC__)
#define STEPPAR_SDK_COMPILER "GCC " __VERSION__
#else
#define STEPPAR_SDK_COMPILER "an unknown compiler"
#endif

/// The plugin's name as the host shows it; steppar_add_plugin sets it to the target's name
/// for every source file of the plugin. Empty: the host uses the file's name.
#ifndef STEPPAR_PLUGIN_NAME
#define STEPPAR_PLUGIN_NAME ""
#endif
/// The plugin's version as the host shows it; steppar_add_plugin sets it from its VERSION
/// argument (else the project's version). Empty: unversioned.
#ifndef STEPPAR_PLUGIN_VERSION
#define STEPPAR_PLUGIN_VERSION ""
#endif

/// The steppar release this header belongs to.
#define STEPPAR_VERSION_STRING "0.1.0"

/// Everything of the SDK; node functions themselves live wherever their author likes.
namespace steppar {

/// One input file: its path and easy ways to read it.
class InputFile {
public:
    /// An input with no file (what an unused slot holds).
    InputFile() = default;
    /// The input at `path` (the host makes these; a node rarely needs to).
    explicit InputFile(std::string path) : path_(std::move(path)) {}

    /// The file's path, as absolute as the pipeline file's folder made it.
    const std::string& path() const noexcept { return path_; }

    /// The whole file as text (bytes, no decoding).
    std::string read_text() const {
        errno = 0;
        std::ifstream in(path_, std::ios::binary);
        if (!in) fail("open");
        std::string data;
        char chunk[1 << 16];
        while (in.read(chunk, sizeof chunk) || in.gcount() > 0) data.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (in.bad()) fail("read");
        return data;
    }

    /// The whole file as bytes.
    std::vector<std::byte> read_bytes() const {
        const std::string text = read_text();
        std::vector<std::byte> bytes(text.size());
        for (std::size_t i = 0; i < text.size(); ++i) bytes[i] = static_cast<std::byte>(text[i]);
        return bytes;
    }

    /// A stream over the file, for inputs too large to hold in memory.
    std::ifstream open() const {
        errno = 0;
        std::ifstream in(path_, std::ios::binary);
        if (!in) fail("open");
        return in;
    }

private:
    // "cannot open input file 'x': Permission denied": the reason, from errno.
    [[noreturn]] void fail(const char* what) const {
        const int error = errno;
        throw std::runtime_error(std::string("cannot ") + what + " input file '" + path_ + "'" +
                                 (error ? std::string(": ") + std::strerror(error) : std::string()));
    }
    std::string path_;
};

/// A partition of a partitioned dataset, as a whole node sees it.
struct PartitionFile {
    std::string name;  ///< path relative to the dataset folder, without the suffix
    InputFile file;    ///< the partition's file
};

/// One output file. Whatever is written becomes visible at `path()` only when the node function
/// returns without throwing (atomic rename); on an exception nothing is left behind.
class OutputFile {
public:
    virtual ~OutputFile() = default;  ///< outputs belong to the host
    /// The final location of the file (it does not exist yet while the node runs).
    virtual const std::string& path() const = 0;
    /// A stream into the (temporary) file; may be used many times.
    virtual std::ostream& stream() = 0;
    /// Convenience: append bytes to the file.
    void write(std::string_view bytes) { stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size())); }
};

/// Whether `name` may name a counter (PartitionContext::count()): 1 to 64 letters, digits,
/// '_', '-' or '.'.
inline bool is_counter_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
    return true;
}

/// Access to the pipeline's `params:` that the node lists as inputs (`params:NAME`).
class Params {
public:
    virtual ~Params() = default;  ///< params belong to the host
    /// The parameter as JSON text (for structured values). Throws if the node did not list it.
    virtual std::string json(std::string_view name) const = 0;
    /// Whether the node listed `params:NAME` (and so may read it).
    virtual bool has(std::string_view name) const = 0;
    /// The parameter as an integer; throws if it is missing or not an integer.
    virtual long long integer(std::string_view name) const = 0;
    /// The parameter as a number (integers too); throws if it is missing or not a number.
    virtual double number(std::string_view name) const = 0;
    /// The parameter as a string; throws if it is missing or not a string.
    virtual std::string text(std::string_view name) const = 0;
    /// The parameter as true/false; throws if it is missing or not a boolean.
    virtual bool boolean(std::string_view name) const = 0;
};

/// A whole (non-partitioned) input dataset, or a partitioned one seen as its list of partitions.
class InputDataset {
public:
    virtual ~InputDataset() = default;  ///< datasets belong to the host
    /// The dataset's name in the catalog.
    virtual const std::string& name() const = 0;
    /// True for a partitioned dataset (use partitions()), false for a file (use file()).
    virtual bool partitioned() const = 0;
    /// For a file dataset: the file. Throws for a partitioned dataset.
    virtual const InputFile& file() const = 0;
    /// For a partitioned dataset: its partitions in deterministic (sorted) order.
    virtual const std::vector<PartitionFile>& partitions() const = 0;
};

/// What a partition function receives: one partition of each partitioned input (zipped by
/// name), whole-file inputs, params, and one output partition per partitioned output.
class PartitionContext {
public:
    virtual ~PartitionContext() = default;  ///< contexts belong to the host
    /// The partition's name (relative path without suffix), e.g. "2024/05/orders".
    virtual const std::string& partition() const = 0;
    /// The i-th partitioned input's file for this partition (inputs in the order the node lists them).
    virtual const InputFile& input(std::size_t i = 0) const = 0;
    /// How many partitioned inputs the node lists.
    virtual std::size_t input_count() const = 0;
    /// The i-th whole-file input (e.g. a lookup table), in listed order.
    virtual const InputFile& file(std::size_t i = 0) const = 0;
    /// How many whole-file inputs the node lists.
    virtual std::size_t file_count() const = 0;
    /// The same-named partition of the i-th partitioned output.
    virtual OutputFile& output(std::size_t i = 0) = 0;
    /// How many outputs the node lists.
    virtual std::size_t output_count() const = 0;
    /// The `params:NAME` inputs the node lists.
    virtual const Params& params() const = 0;
    /// The `data` of the configurator chosen for this partition (see the pipeline file's
    /// `configurator:`), field by field: `configuration().integer("rate")`; `json("")` is the
    /// whole data. Empty (has() is false for every field) when none applies.
    virtual const Params& configuration() const = 0;
    /// The name of the chosen configurator, or "" when none applies.
    virtual const std::string& configurator() const = 0;
    /// Which slice of its unit this call runs in: 0 to slice_count() - 1 (0 for a plain node).
    virtual int slice() const = 0;
    /// How many slices the unit's current plan has (1 for a plain node).
    virtual int slice_count() const = 0;
    /// Leaves the i-th output without this partition (a filter dropping it, or "nothing to
    /// say"): no file is made, whatever the call wrote or writes to that output is dropped, and a
    /// file an earlier run made there is removed. The partition is recorded as skipped, so the
    /// next run does not redo it unless its input changes; downstream nodes do not see it.
    virtual void skip_output(std::size_t i = 0) = 0;
    /// Skips every output of this partition (see skip_output()).
    void skip() {
        for (std::size_t i = 0; i < output_count(); ++i) skip_output(i);
    }
    /// Adds `n` to the step's counter `name` (letters, digits, '_', '-' and '.'; at most 64),
    /// e.g. `ctx.count("rows", rows)`. Counters are summed over the slice and appear in its
    /// marker, in the run's JSON events and in `steppar-host status`. Cheap: call it per record
    /// if you like.
    virtual void count(std::string_view name, long long n = 1) = 0;
    /// Writes one line to the run's log, shown with this node, slice and partition (plain
    /// text; a multi-line message becomes several lines; safe from several threads). Cheap,
    /// but not for every record.
    void log(std::string_view message) { write_log(LogLevel::info, message); }
    /// Like log(), marked as a warning (shown even with --quiet and on the live display).
    void warn(std::string_view message) { write_log(LogLevel::warning, message); }
    /// What log() and warn() call; implemented by the host.
    virtual void write_log(LogLevel level, std::string_view message) = 0;
};

/// What a whole function receives: every input dataset whole, every output whole.
class WholeContext {
public:
    virtual ~WholeContext() = default;  ///< contexts belong to the host
    /// The i-th input dataset (params left out), in the order the node lists them.
    virtual const InputDataset& input(std::size_t i = 0) const = 0;
    /// How many input datasets the node lists.
    virtual std::size_t input_count() const = 0;
    /// The i-th output when it is a file dataset.
    virtual OutputFile& output(std::size_t i = 0) = 0;
    /// A named partition of the i-th output when it is a partitioned dataset.
    virtual OutputFile& output_partition(std::size_t i, std::string_view partition) = 0;
    /// How many outputs the node lists.
    virtual std::size_t output_count() const = 0;
    /// The `params:NAME` inputs the node lists.
    virtual const Params& params() const = 0;
    /// Adds `n` to the node's counter `name` (see PartitionContext::count()).
    virtual void count(std::string_view name, long long n = 1) = 0;
    /// Writes one line to the run's log, shown with this node's name.
    void log(std::string_view message) { write_log(LogLevel::info, message); }
    /// Like log(), marked as a warning.
    void warn(std::string_view message) { write_log(LogLevel::warning, message); }
    /// What log() and warn() call; implemented by the host.
    virtual void write_log(LogLevel level, std::string_view message) = 0;
};

/// What a plugin's setup and teardown functions receive (STEPPAR_SETUP, STEPPAR_TEARDOWN): the
/// step they run in. A slice is one process, so setup runs once before the slice's first node
/// call and teardown once after its last; a plain node is a step of one slice.
class SliceContext {
public:
    virtual ~SliceContext() = default;  ///< contexts belong to the host
    /// The step's name in messages: "count-slice-2", or a plain node's name.
    virtual const std::string& step() const = 0;
    /// The unit (multinode, multipipeline or plain node) the step belongs to.
    virtual const std::string& unit() const = 0;
    /// The slice's index: 0 to slice_count() - 1 (0 for a plain node).
    virtual int slice() const = 0;
    /// How many slices the unit's current plan has (1 for a plain node).
    virtual int slice_count() const = 0;
    /// The `params:NAME` inputs listed by this plugin's nodes in the step (all of them).
    virtual const Params& params() const = 0;
    /// Writes one line to the run's log, shown with the step.
    void log(std::string_view message) { write_log(LogLevel::info, message); }
    /// Like log(), marked as a warning.
    void warn(std::string_view message) { write_log(LogLevel::warning, message); }
    /// What log() and warn() call; implemented by the host.
    virtual void write_log(LogLevel level, std::string_view message) = 0;
};

/// Whether a node is called per partition or once with whole datasets.
enum class NodeKind : std::uint32_t {
    partition = 1,  ///< void f(PartitionContext&)
    whole = 2       ///< void f(WholeContext&)
};

/// A partition node's function.
using PartitionFunction = void (*)(PartitionContext&);
/// A whole node's function.
using WholeFunction = void (*)(WholeContext&);
/// A plugin's setup or teardown function. Throwing fails the step (for setup: before any node
/// runs; teardown still runs after a node failed, and its own failure is reported too).
using LifecycleFunction = void (*)(SliceContext&);

/// One entry of a plugin's node table (made by STEPPAR_NODE).
struct NodeDescriptor {
    const char* name;                      ///< the function's name, how pipelines call it
    NodeKind kind;                         ///< which of the two functions is set
    PartitionFunction partition_function;  ///< set for NodeKind::partition
    WholeFunction whole_function;          ///< set for NodeKind::whole
};

/// What the plugin was built with, as the host compares it with its own build: the library
/// and its ABI switches decide the layout of everything that crosses; the sizes catch a
/// mismatch the name does not tell.
struct Toolchain {
    const char* cxx_library;           ///< STEPPAR_SDK_CXX_LIBRARY STEPPAR_SDK_CXX_MODE
    const char* compiler;              ///< STEPPAR_SDK_COMPILER (shown, not compared)
    std::uint32_t sizeof_pointer;      ///< sizeof(void*)
    std::uint32_t sizeof_size_t;       ///< sizeof(std::size_t)
    std::uint32_t sizeof_long_long;    ///< sizeof(long long)
    std::uint32_t sizeof_string;       ///< sizeof(std::string)
    std::uint32_t sizeof_string_view;  ///< sizeof(std::string_view)
    std::uint32_t sizeof_vector;       ///< sizeof(std::vector<PartitionFile>)
    std::uint32_t sizeof_ostream;      ///< sizeof(std::ostream)
    std::uint32_t sizeof_exception_ptr;  ///< sizeof(std::exception_ptr)
};

/// What a plugin exports, through its one C entry point steppar_plugin_descriptor().
/// `abi_version` stays the first member and `size` the second forever, so the host can read
/// them before trusting anything else.
struct PluginDescriptor {
    std::uint32_t abi_version;               ///< STEPPAR_SDK_ABI_VERSION when the plugin was built
    std::uint32_t size;                      ///< sizeof(PluginDescriptor) when the plugin was built
    const char* name;                        ///< STEPPAR_PLUGIN_NAME ("" = unnamed)
    const char* version;                     ///< STEPPAR_PLUGIN_VERSION ("" = unversioned)
    const char* sdk_version;                 ///< STEPPAR_VERSION_STRING of the SDK it was built with
    Toolchain toolchain;                     ///< what it was built with
    const NodeDescriptor* const* nodes_begin;  ///< the node table (STEPPAR_NODE entries)
    const NodeDescriptor* const* nodes_end;    ///< one past its end
    LifecycleFunction setup;                 ///< STEPPAR_SETUP's function, or null
    LifecycleFunction teardown;              ///< STEPPAR_TEARDOWN's function, or null
};

/// The toolchain identity of the code including this header (the host calls it for its own).
constexpr Toolchain this_toolchain() {
    return Toolchain{STEPPAR_SDK_CXX_LIBRARY STEPPAR_SDK_CXX_MODE,
                     STEPPAR_SDK_COMPILER,
                     sizeof(void*),
                     sizeof(std::size_t),
                     sizeof(long long),
                     sizeof(std::string),
                     sizeof(std::string_view),
                     sizeof(std::vector<PartitionFile>),
                     sizeof(std::ostream),
                     sizeof(std::exception_ptr)};
}

namespace detail {
constexpr NodeDescriptor describe(const char* name, PartitionFunction f) { return NodeDescriptor{name, NodeKind::partition, f, nullptr}; }
constexpr NodeDescriptor describe(const char* name, WholeFunction f) { return NodeDescriptor{name, NodeKind::whole, nullptr, f}; }
}  // namespace detail

}  // namespace steppar

// The node table is the linker section "steppar_nodes": every STEPPAR_NODE adds a pointer to
// it, and the linker's __start_/__stop_ symbols bound it within each plugin (hidden, so two
// plugins never see each other's). Weak: a library without nodes links, and is refused by the
// host with a clear message instead of an unresolved symbol.
extern "C" {
/// @cond internal
extern const ::steppar::NodeDescriptor* const __start_steppar_nodes[] __attribute__((weak, visibility("hidden")));
extern const ::steppar::NodeDescriptor* const __stop_steppar_nodes[] __attribute__((weak, visibility("hidden")));
extern void steppar_plugin_setup_function(::steppar::SliceContext&) __attribute__((weak, visibility("hidden")));
extern void steppar_plugin_teardown_function(::steppar::SliceContext&) __attribute__((weak, visibility("hidden")));
/// @endcond

/// The plugin's descriptor: its one exported entry point. Emitted (once per plugin, merged by
/// the linker) where STEPPAR_NODE is used, so the host's own code and node unit tests that
/// include this header do not define it.
__attribute__((visibility("default"))) inline const ::steppar::PluginDescriptor* steppar_plugin_descriptor();
}

/// @cond internal
namespace steppar::detail {
// Hidden: each plugin has its own, whatever flags it was built with. Addresses only, so it is
// constant-initialized (a weak function that is not defined has the address null).
inline __attribute__((visibility("hidden"))) const PluginDescriptor plugin_descriptor{
    STEPPAR_SDK_ABI_VERSION,    sizeof(PluginDescriptor), STEPPAR_PLUGIN_NAME,  STEPPAR_PLUGIN_VERSION,  STEPPAR_VERSION_STRING,
    this_toolchain(),           __start_steppar_nodes,    __stop_steppar_nodes, &steppar_plugin_setup_function,
    &steppar_plugin_teardown_function};
}  // namespace steppar::detail
/// @endcond

inline const ::steppar::PluginDescriptor* steppar_plugin_descriptor() { return &::steppar::detail::plugin_descriptor; }

/// Exports `function` as a node named like the function. The kind (partition or whole) follows
/// from its parameter type. Use it at global scope, naming the function without `::` (inside a
/// namespace, call it after `using ns::function;`). The same name exported twice in one plugin
/// is a link error naming `steppar_node_<name>`.
#define STEPPAR_NODE(function)                                                                          \
    extern "C" __attribute__((visibility("hidden"))) const ::steppar::NodeDescriptor steppar_node_##function = \
        ::steppar::detail::describe(#function, &function);                                              \
    __attribute__((used, section("steppar_nodes"))) static const ::steppar::NodeDescriptor* const       \
        steppar_node_entry_##function = &steppar_node_##function;                                       \
    __attribute__((used)) static const ::steppar::PluginDescriptor* (*const steppar_node_entry_point_##function)() = \
        &steppar_plugin_descriptor;

// The functions are weak (declared so above, for the descriptor); the strong marker beside each
// is what makes a second STEPPAR_SETUP or STEPPAR_TEARDOWN in one plugin a link error.

/// Names the plugin's setup function, `void function(steppar::SliceContext&)`: called in each
/// slice's process before the slice's first node call of this plugin (a database connection, a
/// model, a cache: whatever the nodes share), identically under every runner. At most one per
/// plugin (a second is a link error naming `steppar_plugin_setup`); use it at global scope.
#define STEPPAR_SETUP(function)                                                                            \
    extern "C" __attribute__((visibility("hidden"))) void steppar_plugin_setup_function(::steppar::SliceContext& slice) { \
        function(slice);                                                                                    \
    }                                                                                                       \
    extern "C" __attribute__((visibility("hidden"), used)) const char steppar_plugin_setup = 1;

/// Names the plugin's teardown function, `void function(steppar::SliceContext&)`: called once
/// after the slice's last node call, on success and after a node threw, before the slice's
/// marker is written. Throwing fails the slice. At most one per plugin (a second is a link error
/// naming `steppar_plugin_teardown`); use it at global scope.
#define STEPPAR_TEARDOWN(function)                                                                            \
    extern "C" __attribute__((visibility("hidden"))) void steppar_plugin_teardown_function(::steppar::SliceContext& slice) { \
        function(slice);                                                                                       \
    }                                                                                                          \
    extern "C" __attribute__((visibility("hidden"), used)) const char steppar_plugin_teardown = 1;
