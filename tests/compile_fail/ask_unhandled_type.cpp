// Asking an actor a message type it has no handler for.
// expect: troupe: the actor has no public handler for this message type
#include <troupe/troupe.hpp>

struct Deposit {
  int amount;
};
struct Balance {};
class Account : public troupe::Actor {
 public:
  void on(const Deposit& d) { balance_ += d.amount; }

 private:
  int balance_ = 0;
};

int balance(const troupe::Ref<Account>& account) { return account.ask(Balance{}).get(); }

int main() {}
