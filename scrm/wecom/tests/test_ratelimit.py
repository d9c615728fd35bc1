from scrm.wecom.ratelimit import RateLimiter


def limiter(**overrides) -> RateLimiter:
    return RateLimiter(
        tenant_schema="alpha",
        corp_id="wwlimiter0001",
        overrides={"per_corp": [[3, 60]], "safety": 1.0, "welcome_reserve": 0.0, **overrides},
    )


def test_back_to_back_calls_each_take_a_slot(db):
    # calls within the same millisecond must not collapse into one slot
    rl = limiter()
    waits = [rl.try_acquire(api="x/y", priority="bulk") for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] > 50  # seconds until the oldest slot leaves the minute window


def test_welcome_reserve_is_only_for_welcome(db):
    rl = limiter(per_corp=[[10, 60]], welcome_reserve=0.2)
    assert [rl.try_acquire(api="w", priority="bulk") for _ in range(9)].count(0.0) == 8
    assert rl.try_acquire(api="w", priority="welcome") == 0.0
    assert rl.try_acquire(api="w", priority="welcome") == 0.0
    assert rl.try_acquire(api="w", priority="welcome") > 0


def test_keys_name_the_tenant_or_the_platform(db):
    rl = limiter()
    corp_key, ip_key = (rl.key(window, "a/b") for window in rl.windows[:2])
    assert corp_key.startswith("scrm:alpha:wecom:rl:corp:wwlimiter0001:")
    assert ip_key.startswith("scrm:platform:wecom:rl:ip:")
