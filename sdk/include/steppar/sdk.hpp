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
// This header deliberately includes no JSON library and no heavy Boost header so plugins build
// fast: parameters arrive as typed scalars or as JSON text (parse it with any JSON library).
#pragma once

#include <boost/dll/alias.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

/// Bumped whenever anything a plugin sees through this header changes layout or meaning; the
/// host refuses a plugin whose nodes carry another value. (Overridable only so tests can build
/// a deliberately incompatible plugin.)
#ifndef STEPPAR_SDK_ABI_VERSION
#define STEPPAR_SDK_ABI_VERSION 4
#endif

/// The C++ standard library a plugin is built with, as its nodes record it: std::string, vectors
/// and exceptions cross the plugin boundary, so the host refuses a plugin whose library differs
/// from its own (libc++ against libstdc++, the old std::string ABI, debug containers).
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

/// How much a node's log line matters: info is progress, warning is something to look at.
enum class LogLevel : std::uint32_t {
    info = 1,    ///< shown with --log-format plain/json, not on the live display or with --quiet
    warning = 2  ///< always shown
};

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
    /// Writes one line to the run's log, shown with this node's name.
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

/// What STEPPAR_NODE exports for each node. `abi_version` stays the first member forever, so
/// the host can read it before trusting anything else.
struct NodeDescriptor {
    std::uint32_t abi_version;             ///< STEPPAR_SDK_ABI_VERSION when the plugin was built
    const char* name;                      ///< the function's name, how pipelines call it
    NodeKind kind;                         ///< which of the two functions is set
    PartitionFunction partition_function;  ///< set for NodeKind::partition
    WholeFunction whole_function;          ///< set for NodeKind::whole
    const char* cxx_library;               ///< STEPPAR_SDK_CXX_LIBRARY STEPPAR_SDK_CXX_MODE when built
};

namespace detail {
constexpr NodeDescriptor describe(const char* name, PartitionFunction f) {
    return NodeDescriptor{STEPPAR_SDK_ABI_VERSION, name, NodeKind::partition, f, nullptr, STEPPAR_SDK_CXX_LIBRARY STEPPAR_SDK_CXX_MODE};
}
constexpr NodeDescriptor describe(const char* name, WholeFunction f) {
    return NodeDescriptor{STEPPAR_SDK_ABI_VERSION, name, NodeKind::whole, nullptr, f, STEPPAR_SDK_CXX_LIBRARY STEPPAR_SDK_CXX_MODE};
}
}  // namespace detail

}  // namespace steppar

/// Exports `function` as a node named like the function. The kind (partition or whole) follows
/// from its parameter type. Use it at global scope, naming the function without `::`
/// (inside a namespace, call it after `using ns::function;`). Exported symbols live in the "steppar" section so the host can list
/// every node of a plugin.
#define STEPPAR_NODE(function)                                                                \
    namespace steppar_nodes {                                                                 \
    inline constexpr ::steppar::NodeDescriptor function##_descriptor =                        \
        ::steppar::detail::describe(#function, &function);                                    \
    }                                                                                         \
    BOOST_DLL_ALIAS_SECTIONED(steppar_nodes::function##_descriptor, steppar_node_##function, steppar)
