// A string first is the actor's name; an actor that can also take it as a constructor
// argument makes the call ambiguous, so it must not compile.
// expect: troupe: spawn<T>(s, args...) is ambiguous
#include <string>

#include <troupe/troupe.hpp>

class Logger : public troupe::Actor {
 public:
  explicit Logger(std::string path) : path_(std::move(path)) {}
  const std::string& on(int) { return path_; }

 private:
  std::string path_;
};

int main() {
  troupe::System system;
  auto logger = system.spawn<Logger>(std::string("app.log"));
}
