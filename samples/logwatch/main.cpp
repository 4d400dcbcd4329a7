// logwatch - `tail -f` as a daemon actor (seed 000, "Daemon Threads": watch_log_file).
//
// Python watches a log file from a daemon thread that loops forever:
//
//     def watch_log_file(filename):
//         with open(filename, 'r') as file:
//             file.seek(0, os.SEEK_END)
//             while True:
//                 line = file.readline()
//                 if line:
//                     print(f"New data: {line.strip()}")
//                 time.sleep(1)
//
//     watch_thread = threading.Thread(target=watch_log_file, args=(log_filename,))
//     watch_thread.daemon = True      # exit when the main program exits
//
// The actor keeps the open file and its position as state, and asks for a Poll message every
// period (`every`) instead of sleeping in a loop: between polls it holds no thread at all.
// It is spawned as a daemon, so it never keeps the program alive; the program ends after
// --duration-ms, or at Ctrl-C through troupe::SignalHandler.
//
// Beyond the seed: it prints only whole lines (a line written in two pieces is reported once),
// starts over when the file is truncated, and reopens it when it is replaced (log rotation).
//
// Usage: logwatch FILE [--poll-ms N] [--from-start] [--duration-ms N]
//        logwatch --demo      watch a temporary log that a second actor appends to
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include <troupe/signals.hpp>
#include <troupe/troupe.hpp>

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

struct Start {};
struct Poll {};
struct Append {};

// watch_log_file as an actor.
class Tail : public troupe::Actor {
 public:
  Tail(std::string path, milliseconds poll, bool from_start)
      : path_(std::move(path)), poll_(poll), from_start_(from_start) {}

  ~Tail() override {
    if (fd_ < 0) return;                      // never started watching
    if (!partial_.empty()) report(partial_);  // a last line without its newline
    std::printf("logwatch: stopped after %ld new line(s)\n", lines_);
    std::fflush(stdout);
    close(fd_);
  }

  // open(filename); file.seek(0, os.SEEK_END). Answers "" or why the file cannot be watched.
  std::string on(Start) {
    if (std::string error = open_file(); !error.empty()) {
      stop();
      return error;
    }
    if (!from_start_) offset_ = size_of(fd_);
    every(poll_, self<Tail>(), Poll{});
    return {};
  }

  // One round of Python's while-loop body: read what is new, print complete lines.
  void on(Poll) {
    if (size_of(fd_) < offset_) {  // the file was truncated (log cleared): start over
      std::printf("logwatch: %s was truncated\n", path_.c_str());
      offset_ = 0;
      partial_.clear();
    }
    drain();
    // A rotated log is a new file under the old name: follow the name, like `tail -F`.
    struct stat st {};
    if (stat(path_.c_str(), &st) == 0 && st.st_ino != inode_ && open_file().empty()) {
      if (!partial_.empty()) report(partial_);  // the old file's unfinished last line
      partial_.clear();
      std::printf("logwatch: %s was replaced; following the new file\n", path_.c_str());
      drain();
    }
    std::fflush(stdout);
  }

 private:
  std::string open_file() {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open " + path_ + ": " + std::strerror(errno);
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return path_ + " is not a regular file";
    }
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    inode_ = st.st_ino;
    offset_ = 0;
    return {};
  }

  // Reads everything new from the open file and reports the complete lines.
  void drain() {
    char buffer[16 * 1024];
    for (;;) {
      ssize_t n = pread(fd_, buffer, sizeof buffer, offset_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nothing more for now (an error is retried at the next poll)
      offset_ += n;
      partial_.append(buffer, static_cast<std::size_t>(n));
    }
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      report(partial_.substr(start, nl - start));
    }
    partial_.erase(0, start);
  }

  static off_t size_of(int fd) {
    struct stat st {};
    return fstat(fd, &st) == 0 ? st.st_size : 0;
  }

  void report(const std::string& line) {
    ++lines_;
    std::printf("New data: %s\n", line.c_str());
  }

  std::string path_;
  milliseconds poll_;
  bool from_start_;
  int fd_ = -1;
  ino_t inode_ = 0;
  off_t offset_ = 0;
  std::string partial_;  // bytes after the last newline seen
  long lines_ = 0;
};

// For --demo: something that writes a log, one line per period, as an application would.
class DemoWriter : public troupe::Actor {
 public:
  DemoWriter(fs::path path, milliseconds period) : path_(std::move(path)), period_(period) {}
  void on(Start) { every(period_, self<DemoWriter>(), Append{}); }
  void on(Append) { std::ofstream(path_, std::ios::app) << "request " << ++count_ << " served\n"; }

 private:
  fs::path path_;
  milliseconds period_;
  int count_ = 0;
};

/// Removes a folder when it goes out of scope.
struct RemoveOnExit {
  fs::path dir;
  ~RemoveOnExit() {
    std::error_code ignored;
    if (!dir.empty()) fs::remove_all(dir, ignored);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "logwatch: print lines as they are appended to a file (tail -f), from a daemon actor"};
  std::string file;
  int poll_ms = 200;
  bool from_start = false;
  int duration_ms = 0;
  bool demo = false;
  app.add_option("FILE", file, "the file to watch");
  app.add_option("--poll-ms", poll_ms, "how often to look for new data (the seed: 1 s)")
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  app.add_flag("--from-start", from_start, "report the lines already in the file too");
  app.add_option("--duration-ms", duration_ms, "stop after this long; 0: run until Ctrl-C")
      ->check(CLI::Range(0, 86'400'000))
      ->capture_default_str();
  app.add_flag("--demo", demo,
               "watch a temporary log that another actor writes to (1.5 s unless "
               "--duration-ms)");
  CLI11_PARSE(app, argc, argv);

  RemoveOnExit demo_dir;  // declared before the System: removed after the actors have stopped
  if (demo == !file.empty()) {
    std::fprintf(stderr, "logwatch: give a FILE to watch, or --demo (try --help)\n");
    return 2;
  }
  if (demo) {
    std::string pattern = (fs::temp_directory_path() / "troupe-logwatch-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "logwatch: cannot create a temporary folder: %s\n",
                   std::strerror(errno));
      return 1;
    }
    demo_dir.dir = pattern;
    file = (demo_dir.dir / "app.log").string();
    std::ofstream(file) << "an old line, already there\n";
    if (duration_ms == 0) duration_ms = 1500;
  }

  troupe::System system;
  // Ctrl-C stops cleanly. Declared after the System, so it is destroyed first.
  troupe::SignalHandler signals(system);

  // watch_thread = Thread(target=watch_log_file, args=(filename,)); watch_thread.daemon = True
  auto tail =
      system.spawn<Tail>({.name = "tail", .daemon = true}, file, milliseconds(poll_ms), from_start);
  std::string error = tail.ask(Start{}).get(seconds(10));
  if (!error.empty()) {
    std::fprintf(stderr, "logwatch: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "logwatch: watching %s (%s)\n", file.c_str(),
               duration_ms > 0 ? "until the duration ends or Ctrl-C" : "Ctrl-C to stop");
  if (demo) {
    auto writer = system.spawn<DemoWriter>({.name = "writer", .daemon = true}, fs::path(file),
                                           milliseconds(200));
    writer.tell(Start{});
  }

  // The seed's main thread sleeps in a loop to keep the program alive; here main waits for a
  // signal (and the shutdown it starts), or for the duration to pass.
  if (duration_ms > 0) {
    signals.wait_shutdown(milliseconds(duration_ms));
  } else {
    while (!signals.wait_shutdown(hours(1))) {
    }
  }
  // Leaving main destroys the System, which stops the daemon (if Ctrl-C has not already).
  return 0;
}
