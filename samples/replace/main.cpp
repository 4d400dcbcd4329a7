// replace - replace text in many files concurrently (seed 002, "Single-threaded applications"
// and the `replace` example after it).
//
// Python starts one thread per file:
//
//     def replace(filename, substr, new_substr):
//         with open(filename, "r") as f:
//             content = f.read()
//         content = content.replace(substr, new_substr)
//         with open(filename, "w") as f:      # truncates first: a crash here loses the file
//             f.write(content)
//
//     threads = [Thread(target=replace, args=(filename, "ids", "id")) for filename in filenames]
//
// Here each file gets an actor, as each got a thread: actors are cheap (about 128 bytes
// idle), so one per file is fine even for thousands of files, and they share a couple of
// worker threads. Each one answers an ask with what it did, so main collects the results
// without shared state or locks.
//
// One thing the seed gets wrong: open(filename, "w") empties the file before writing it, so
// an error half way (disk full, a crash) leaves a damaged file. The editor here writes the new
// content to a temporary file in the same folder and renames it over the original: a rename
// is atomic, so every file is either entirely old or entirely new.
//
// Usage: replace OLD NEW FILE...       replace every OLD with NEW in each FILE
//        replace --demo                the seed's example in a temporary folder
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/troupe.hpp>

namespace fs = std::filesystem;

namespace {

// -- the file work (plain functions) --------------------------------------------------------

/// What happened to one file.
struct Outcome {
  std::string file;
  long replacements = 0;
  std::string error;  // empty on success
};

std::string errno_text(const std::string& what, const fs::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

std::string read_file(const fs::path& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(errno_text("cannot open", path));
  std::string content;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string message = errno_text("cannot read", path);  // before close() resets errno
      close(fd);
      throw std::runtime_error(message);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return content;
}

/// Replaces `path`'s content with `content` atomically: a temporary file next to it, written,
/// flushed to disk and renamed over it. On any failure the temporary file is removed and the
/// original is untouched. Keeps the file's permission bits.
void write_atomically(const fs::path& path, const std::string& content) {
  // Write next to the real file (a symlink is followed), so the rename stays on one
  // filesystem and replaces the file, not the link.
  fs::path target = fs::canonical(path);
  struct stat original {};
  if (stat(target.c_str(), &original) != 0)
    throw std::runtime_error(errno_text("cannot stat", target));

  std::string pattern =
      (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  int fd = mkstemp(pattern.data());
  if (fd < 0)
    throw std::runtime_error(errno_text("cannot create a temporary file next to", target));
  fs::path temp = pattern;
  auto fail = [&](const std::string& what) {
    std::string message = errno_text(what, temp);
    close(fd);
    unlink(temp.c_str());
    throw std::runtime_error(message);
  };
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (fchmod(fd, original.st_mode & 07777) != 0) fail("cannot set the mode of");
  if (fsync(fd) != 0) fail("cannot flush");
  if (close(fd) != 0) {
    std::string message = errno_text("cannot close", temp);
    unlink(temp.c_str());
    throw std::runtime_error(message);
  }
  if (std::rename(temp.c_str(), target.c_str()) != 0) {
    std::string message = errno_text("cannot rename the new content over", target);
    unlink(temp.c_str());
    throw std::runtime_error(message);
  }
}

/// content.replace(old, new), counting the replacements.
long replace_all(std::string& content, const std::string& from, const std::string& to) {
  long count = 0;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = content.find(from, pos)) != std::string::npos;
       pos = hit + from.size()) {
    out.append(content, pos, hit - pos);
    out += to;
    ++count;
  }
  if (count == 0) return 0;
  out.append(content, pos);
  content = std::move(out);
  return count;
}

// -- the actor ------------------------------------------------------------------------------

struct Edit {
  std::string from;
  std::string to;
};

// One per file, like one Thread per file in the seed. Reading and writing a small file is
// quick, so it runs on the shared worker pool; code that can block for long (a network
// filesystem) would be spawned with `.dedicated_thread = true` instead.
class FileEditor : public troupe::Actor {
 public:
  explicit FileEditor(fs::path file) : file_(std::move(file)) {}

  // Failures become part of the answer rather than an exception, so one bad file does not
  // hide the others' results.
  Outcome on(const Edit& e) {
    Outcome outcome;
    outcome.file = file_.string();
    try {
      std::string content = read_file(file_);
      outcome.replacements = replace_all(content, e.from, e.to);
      if (outcome.replacements > 0) write_atomically(file_, content);
    } catch (const std::exception& error) {
      outcome.error = error.what();
    }
    stop();  // one job per actor, like a thread's function returning
    return outcome;
  }

 private:
  fs::path file_;
};

// -- the demo: the seed's ten files ---------------------------------------------------------

fs::path make_demo_folder() {
  std::string pattern = (fs::temp_directory_path() / "troupe-replace-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(errno_text("cannot create a folder in", fs::temp_directory_path()));
  }
  fs::path dir = pattern;
  for (int i = 1; i <= 10; ++i) {
    std::ofstream(dir / ("test" + std::to_string(i) + ".txt")) << "ids\nsome ids and more ids\n";
  }
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"replace: replace text in many files concurrently, one actor per file"};
  std::string from;
  std::string to;
  std::vector<std::string> files;
  bool demo = false;
  app.add_option("OLD", from, "the text to replace");
  app.add_option("NEW", to, "what to put instead");
  app.add_option("FILE", files, "files to edit in place");
  app.add_flag("--demo", demo,
               "run the seed's example (\"ids\" -> \"id\" in ten files) in a "
               "temporary folder, then remove it");
  CLI11_PARSE(app, argc, argv);

  fs::path demo_dir;
  if (demo) {
    if (!from.empty() || !files.empty()) {
      std::fprintf(stderr, "replace: --demo takes no other arguments\n");
      return 2;
    }
    try {
      demo_dir = make_demo_folder();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replace: %s\n", e.what());
      return 1;
    }
    from = "ids";
    to = "id";
    for (int i = 1; i <= 10; ++i)
      files.push_back((demo_dir / ("test" + std::to_string(i) + ".txt")).string());
    std::printf("demo: 10 files in %s\n", demo_dir.c_str());
  } else if (files.empty()) {
    std::fprintf(stderr, "replace: need OLD NEW FILE... (or --demo); try --help\n");
    return 2;
  } else if (from.empty()) {
    std::fprintf(stderr, "replace: OLD must not be empty\n");
    return 2;
  }

  auto t0 = std::chrono::steady_clock::now();
  troupe::System system;

  // threads = [Thread(target=replace, args=(f, "ids", "id")) for f in filenames]; start each.
  std::vector<troupe::Future<Outcome>> results;
  for (const std::string& file : files) {
    results.push_back(system.spawn<FileEditor>(troupe::SpawnOptions{}, file).ask(Edit{from, to}));
  }

  // for thread in threads: thread.join() -- here, wait for every answer. The answers come in
  // the order the files were given, whichever actor finished first.
  int failed = 0;
  long total = 0;
  for (auto& result : results) {
    Outcome o = result.get(std::chrono::seconds(60));
    if (!o.error.empty()) {
      ++failed;
      std::fprintf(stderr, "replace: %s\n", o.error.c_str());
      std::printf("%s: failed, left unchanged\n", o.file.c_str());
    } else {
      total += o.replacements;
      std::printf("%s: %ld replacement(s)\n", o.file.c_str(), o.replacements);
    }
  }
  system.join();
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%ld replacement(s) in %zu file(s), %d failed, %.1f ms\n", total, files.size(),
              failed, ms);

  if (demo) {
    std::error_code ignored;
    fs::remove_all(demo_dir, ignored);
  }
  return failed == 0 ? 0 : 1;
}
