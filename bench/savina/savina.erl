%% bench/savina/savina.erl - the Savina workloads of savina-troupe on Erlang/OTP: one
%% process per actor, plain `!` and `receive`, request-reply as a message carrying the
%% caller's pid. Same protocols and sizes as troupe.cpp.
%%
%% usage: erl +S 2 -noshell -pa DIR -s savina main <workload> <scale>
%% Prints "<workload> <ms>"; a wrong result halts with status 1.
-module(savina).
-export([main/1]).

main([Name, ScaleStr]) ->
    Scale = list_to_float_any(atom_to_list(ScaleStr)),
    try run(Name, Scale) of
        ok -> halt(0)
    catch
        throw:{wrong, What} ->
            io:format(standard_error, "savina-erlang: wrong result: ~p~n", [What]),
            halt(1)
    end.

list_to_float_any(S) ->
    case string:to_float(S) of
        {F, []} -> F;
        _ -> float(list_to_integer(S))
    end.

scaled(Base, Scale) -> max(1, round(Base * Scale)).

now_us() -> erlang:monotonic_time(microsecond).

report(Name, Start) ->
    io:format("~s ~.3f~n", [Name, (now_us() - Start) / 1000]).

check(true, _) -> ok;
check(false, What) -> throw({wrong, What}).

%% a random integer in [0, N): Erlang's own generator (the state argument is unused; the
%% other languages' xorshift would make bignums here)
below(S, N) -> {rand:uniform(N) - 1, S}.

%% Savina's stand-in for real work: N rounds of an LCG, here a 31-bit one (the 64-bit one of
%% the other languages would make every step a bignum in Erlang)
busy(Seed, N) -> busy31(Seed band 16#7FFFFFFF, N).
busy31(Seed, 0) -> Seed;
busy31(Seed, N) -> busy31((Seed * 1103515245 + 12345) band 16#7FFFFFFF, N - 1).

collect(0, Sum) -> Sum;
collect(N, Sum) -> receive {finished, C} -> collect(N - 1, Sum + C) end.

%% -- counting ----------------------------------------------------------------------------

run(counting, Scale) ->
    N = scaled(1000000, Scale),
    Main = self(),
    Counter = spawn(fun() -> counter(0) end),
    Start = now_us(),
    spawn(fun() ->
              [Counter ! increment || _ <- lists:seq(1, N)],
              Counter ! {total, self()},
              receive {total, T} -> Main ! {finished, T} end
          end),
    Got = collect(1, 0),
    report(counting, Start),
    check(Got =:= N, {counting, Got});

%% -- chameneos ---------------------------------------------------------------------------

run(chameneos, Scale) ->
    N = scaled(200000, Scale),
    Creatures = 100,
    Main = self(),
    Mall = spawn(fun() -> mall(N, none) end),
    Cs = [spawn(fun() -> receive start -> ok end, Mall ! {meet, self(), I rem 3}, chameneo(Mall, Main, I rem 3, 0) end)
          || I <- lists:seq(0, Creatures - 1)],
    Start = now_us(),
    [C ! start || C <- Cs],
    Got = collect(Creatures, 0),
    report(chameneos, Start),
    exit(Mall, kill),
    check(Got =:= 2 * N, {chameneos, Got});

%% -- big ---------------------------------------------------------------------------------

run(big, Scale) ->
    Pings = scaled(10000, Scale),
    N = 100,
    Main = self(),
    Ws = [spawn(fun() -> receive {neighbours, All} -> big_start(All, I, Pings, Main) end end)
          || I <- lists:seq(1, N)],
    Tuple = list_to_tuple(Ws),
    Start = now_us(),
    [W ! {neighbours, Tuple} || W <- Ws],
    Got = collect(N, 0),
    report(big, Start),
    [exit(W, kill) || W <- Ws],
    check(Got =:= N * Pings, {big, Got});

%% -- concdict ----------------------------------------------------------------------------

run(concdict, Scale) ->
    Ops = scaled(10000, Scale),
    N = 20,
    Main = self(),
    Dict = spawn(fun() -> dictionary(maps:from_list([{K, 2 * K} || K <- lists:seq(0, 9999)])) end),
    Ws = [spawn(fun() -> receive start -> dict_worker(Dict, Main, I, Ops, 0, 0) end end)
          || I <- lists:seq(1, N)],
    Start = now_us(),
    [W ! start || W <- Ws],
    Got = collect(N, 0),
    report(concdict, Start),
    exit(Dict, kill),
    check(Got =:= N * Ops, {concdict, Got});

%% -- philosophers ------------------------------------------------------------------------

run(philosophers, Scale) ->
    Meals = scaled(10000, Scale),
    N = 20,
    Main = self(),
    Arb = spawn(fun() -> arbitrator(N, erlang:make_tuple(N, false)) end),
    Ps = [spawn(fun() -> receive start -> philosopher(Arb, Main, Seat, Meals, 0) end end)
          || Seat <- lists:seq(0, N - 1)],
    Start = now_us(),
    [P ! start || P <- Ps],
    Got = collect(N, 0),
    report(philosophers, Start),
    exit(Arb, kill),
    check(Got =:= N * Meals, {philosophers, Got});

%% -- barber ------------------------------------------------------------------------------

run(barber, Scale) ->
    N = scaled(20000, Scale),
    Main = self(),
    Room = spawn(fun() -> receive {hire, B} -> room(B, Main, queue:new(), 0, true) end end),
    Barber = spawn(fun() -> barber(Room, Main) end),
    Room ! {hire, Barber},
    Start = now_us(),
    [Room ! {enter, C} || C <- lists:seq(0, N - 1)],
    customers(Room, N, 0, #{}, queue:new()),
    report(barber, Start),
    exit(Room, kill),
    exit(Barber, kill),
    ok;

%% -- bndbuffer ---------------------------------------------------------------------------

run(bndbuffer, Scale) ->
    Per = scaled(5000, Scale),
    P = 40, C = 40, Capacity = 50,
    Main = self(),
    Manager = spawn(fun() -> receive go -> manager(Main, Capacity, P, C, queue:new(), [], queue:new(), 0) end end),
    Ps = [spawn(fun() -> producer(Manager, I * Per, I * Per + Per) end) || I <- lists:seq(0, P - 1)],
    Cs = [spawn(fun() -> receive start -> Manager ! {available, self(), 0}, consumer(Manager) end end)
          || _ <- lists:seq(1, C)],
    Start = now_us(),
    Manager ! go,
    [X ! start || X <- Cs],
    [X ! produce_more || X <- Ps],
    Got = collect(1, 0),
    report(bndbuffer, Start),
    [exit(X, kill) || X <- Cs],
    exit(Manager, kill),
    Total = P * Per,
    check(Got =:= Total * (Total - 1) div 2, {bndbuffer, Got});

%% -- banking -----------------------------------------------------------------------------

run(banking, Scale) ->
    N = scaled(100000, Scale),
    Accounts = 1000,
    Window = min(200, N),
    Main = self(),
    All = list_to_tuple([spawn(fun() -> account(Main, 1000000) end) || _ <- lists:seq(1, Accounts)]),
    Start = now_us(),
    Rng1 = lists:foldl(fun(_, R) -> transfer(All, R) end, 42, lists:seq(1, Window)),
    teller(All, Rng1, N - Window, Window),
    report(banking, Start),
    Total = lists:sum([begin A ! {balance, self()}, receive {balance, B} -> B end end
                       || A <- tuple_to_list(All)]),
    [exit(A, kill) || A <- tuple_to_list(All)],
    check(Total =:= Accounts * 1000000, {banking, Total}).

%% -- the actors ----------------------------------------------------------------------------

counter(C) ->
    receive
        increment -> counter(C + 1);
        {total, From} -> From ! {total, C}
    end.

complement(A, A) -> A;
complement(A, B) -> 3 - A - B.

mall(Left, Waiting) ->
    receive
        {meet, Who, _} when Left =:= 0 -> Who ! leave, mall(0, Waiting);
        {meet, Who, Colour} when Waiting =:= none -> mall(Left, {Who, Colour});
        {meet, Who, Colour} ->
            {W, _} = Waiting,
            W ! {meet_with, Who, Colour},
            mall(Left - 1, none)
    end.

chameneo(Mall, Main, Colour, Meetings) ->
    receive
        {meet_with, Other, OtherColour} ->
            C = complement(Colour, OtherColour),
            Other ! {change, C},
            Mall ! {meet, self(), C},
            chameneo(Mall, Main, C, Meetings + 1);
        {change, C} ->
            Mall ! {meet, self(), C},
            chameneo(Mall, Main, C, Meetings + 1);
        leave ->
            Main ! {finished, Meetings}
    end.

big_start(All, Id, Pings, Main) ->
    {R, Rng} = below(Id, tuple_size(All)),
    element(R + 1, All) ! {ping, self()},
    big_worker(All, Rng, Pings, 0, Main).

big_worker(All, Rng, Left, Pongs, Main) ->
    receive
        {ping, From} -> From ! pong, big_worker(All, Rng, Left, Pongs, Main);
        pong when Left =:= 1 -> Main ! {finished, Pongs + 1}, big_worker(All, Rng, 0, Pongs + 1, Main);
        pong ->
            {R, Rng1} = below(Rng, tuple_size(All)),
            element(R + 1, All) ! {ping, self()},
            big_worker(All, Rng1, Left - 1, Pongs + 1, Main)
    end.

dictionary(Map) ->
    receive
        {write, From, K, V} -> From ! {reply, V}, dictionary(Map#{K => V});
        {read, From, K} -> From ! {reply, maps:get(K, Map, -1)}, dictionary(Map)
    end.

dict_worker(_, Main, _, 0, _, Good) -> Main ! {finished, Good};
dict_worker(Dict, Main, Rng, Ops, I, Good) ->
    {K, Rng1} = below(Rng, 10000),
    case I rem 10 of
        0 -> Dict ! {write, self(), K, 2 * K};
        _ -> Dict ! {read, self(), K}
    end,
    receive
        {reply, V} ->
            G = case V =:= 2 * K of true -> Good + 1; false -> Good end,
            dict_worker(Dict, Main, Rng1, Ops - 1, I + 1, G)
    end.

arbitrator(N, Forks) ->
    receive
        {hungry, From, Seat} ->
            L = Seat + 1, R = (Seat + 1) rem N + 1,
            case element(L, Forks) orelse element(R, Forks) of
                true -> From ! denied, arbitrator(N, Forks);
                false -> From ! eat, arbitrator(N, setelement(R, setelement(L, Forks, true), true))
            end;
        {ate, Seat} ->
            L = Seat + 1, R = (Seat + 1) rem N + 1,
            check(element(L, Forks) andalso element(R, Forks), fork_put_down_twice),
            arbitrator(N, setelement(R, setelement(L, Forks, false), false))
    end.

philosopher(_, Main, _, Meals, Meals) -> Main ! {finished, Meals};
philosopher(Arb, Main, Seat, Meals, Eaten) ->
    Arb ! {hungry, self(), Seat},
    receive
        eat -> Arb ! {ate, Seat}, philosopher(Arb, Main, Seat, Meals, Eaten + 1);
        denied -> philosopher(Arb, Main, Seat, Meals, Eaten)
    end.

room(Barber, Customers, Waiting, Size, Asleep) ->
    receive
        next ->
            case queue:out(Waiting) of
                {empty, _} -> room(Barber, Customers, Waiting, 0, true);
                {{value, C}, W} -> Barber ! {cut, C}, room(Barber, Customers, W, Size - 1, false)
            end;
        {enter, C} when Asleep -> Barber ! {cut, C}, room(Barber, Customers, Waiting, Size, false);
        {enter, C} when Size < 100 -> room(Barber, Customers, queue:in(C, Waiting), Size + 1, false);
        {enter, C} -> Customers ! {full, C}, room(Barber, Customers, Waiting, Size, Asleep)
    end.

barber(Room, Customers) ->
    receive
        {cut, C} ->
            busy(C, 100),
            Room ! next,
            Customers ! {served, C},
            barber(Room, Customers)
    end.

customers(_, N, N, _, _) -> ok;
customers(Room, N, Count, Served, Away) ->
    receive
        {full, C} -> customers(Room, N, Count, Served, queue:in(C, Away));
        {served, C} ->
            check(not maps:is_key(C, Served), served_twice),
            Away1 = case queue:out(Away) of
                        {empty, A} -> A;
                        {{value, Back}, A} -> Room ! {enter, Back}, A
                    end,
            customers(Room, N, Count + 1, Served#{C => true}, Away1)
    end.

%% Idle consumers are a list, the buffer and blocked producers queues.
manager(Main, Cap, Producers, Consumers, Buffer, Idle, Blocked, Sum) ->
    receive
        {data, Item, From} ->
            case Idle of
                [C | Rest] ->
                    C ! {consume, Item}, From ! produce_more,
                    manager(Main, Cap, Producers, Consumers, Buffer, Rest, Blocked, Sum);
                [] ->
                    B = queue:in(Item, Buffer),
                    case queue:len(B) < Cap of
                        true -> From ! produce_more, manager(Main, Cap, Producers, Consumers, B, Idle, Blocked, Sum);
                        false -> manager(Main, Cap, Producers, Consumers, B, Idle, queue:in(From, Blocked), Sum)
                    end
            end;
        {available, C, Consumed} ->
            Sum1 = case Consumed of 0 -> Sum; _ -> Sum + Consumed - 1 end,
            case queue:out(Buffer) of
                {empty, _} ->
                    manager_check(Main, Cap, Producers, Consumers, Buffer, [C | Idle], Blocked, Sum1);
                {{value, Item}, B} ->
                    C ! {consume, Item},
                    Bl = case queue:out(Blocked) of
                             {empty, X} -> X;
                             {{value, P}, X} -> P ! produce_more, X
                         end,
                    manager(Main, Cap, Producers, Consumers, B, Idle, Bl, Sum1)
            end;
        producer_done ->
            manager_check(Main, Cap, Producers - 1, Consumers, Buffer, Idle, Blocked, Sum)
    end.

manager_check(Main, Cap, Producers, Consumers, Buffer, Idle, Blocked, Sum) ->
    case Producers =:= 0 andalso queue:is_empty(Buffer) andalso length(Idle) =:= Consumers of
        true -> Main ! {finished, Sum};
        false -> manager(Main, Cap, Producers, Consumers, Buffer, Idle, Blocked, Sum)
    end.

producer(Manager, Next, End) ->
    receive
        produce_more when Next =:= End -> Manager ! producer_done;
        produce_more ->
            busy(Next, 100),
            Manager ! {data, Next, self()},
            producer(Manager, Next + 1, End)
    end.

consumer(Manager) ->
    receive
        {consume, Item} ->
            busy(Item, 100),
            Manager ! {available, self(), Item + 1},
            consumer(Manager)
    end.

account(Teller, Balance) ->
    receive
        {debit, To, Amount} -> To ! {credit, self(), Amount}, account(Teller, Balance - Amount);
        {credit, From, Amount} -> From ! credited, account(Teller, Balance + Amount);
        credited -> Teller ! done, account(Teller, Balance);
        {balance, From} -> From ! {balance, Balance}, account(Teller, Balance)
    end.

transfer(All, Rng) ->
    {From, R1} = below(Rng, tuple_size(All)),
    {To, R2} = below(R1, tuple_size(All)),
    {Amount, R3} = below(R2, 1000),
    element(From + 1, All) ! {debit, element(To + 1, All), Amount},
    R3.

%% The teller is the main process: a new transfer for each one done, then the last window.
teller(_, _, 0, 0) -> ok;
teller(All, Rng, 0, InFlight) -> receive done -> teller(All, Rng, 0, InFlight - 1) end;
teller(All, Rng, Left, InFlight) ->
    receive done -> teller(All, transfer(All, Rng), Left - 1, InFlight) end.
