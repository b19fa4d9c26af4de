"""`consent_events`: the privacy centre's log of consent decisions per purpose.

A person decides at sign-up (their first active day) whether to allow each purpose, and some
change their mind later: the rates below are rules of thumb for Chinese retail under PIPL
(separate opt-ins, few grant ad personalisation or data sharing; marketing SMS is withdrawn most,
often by replying "TD"). Decisions are captured where the person is: the app's privacy centre and
unsubscribe links online, paper forms at a store offline, the official account for WeChat."""

from __future__ import annotations

import numpy as np
import polars as pl

from generator.feeds.common import DAY, World, day_strings, keep_in_range, timestamps
from generator.noise import format_mobiles, true_mobiles
from generator.timeline import STORE_HOURS, sample_seconds

# purpose: (share granting at sign-up, share of grants withdrawn before the person leaves)
PURPOSES = {
    "marketing_sms": (0.55, 0.18),
    "wechat_messages": (0.45, 0.10),
    "ads_personalisation": (0.35, 0.08),
    "data_sharing": (0.12, 0.05),
}
DECIDED = 0.85  # share of people who ever see the consent screen (the rest have no record: defaults apply)
WITHDRAW_VIA = {"marketing_sms": ("sms_td", 0.7), "wechat_messages": ("wechat_oa", 0.6)}


def _decisions(rng: np.random.Generator, world: World) -> pl.DataFrame:
    """One row per (person, purpose, decision) with the second it happened and how it was said."""
    pop = world.population
    decided = np.flatnonzero(rng.random(pop.size) < DECIDED)
    frames = []
    for purpose, (grant_rate, withdraw_rate) in PURPOSES.items():
        granted = rng.random(len(decided)) < grant_rate
        person = decided
        signed = pop.arrive[person] * DAY + sample_seconds(rng, len(person), STORE_HOURS)
        withdraws = (
            granted & (rng.random(len(person)) < withdraw_rate) & (pop.leave[person] > pop.arrive[person] + 1)
        )
        later = (
            pop.arrive[person] + 1 + rng.random(len(person)) * (pop.leave[person] - pop.arrive[person] - 1)
        )
        via_default = np.where(pop.offline[person], "store_form", "privacy_centre")
        channel, share = WITHDRAW_VIA.get(purpose, ("unsubscribe_link", 0.5))
        frames.append(
            pl.DataFrame(
                {
                    "_person": person,
                    "_second": signed,
                    "purpose": purpose,
                    "decision": np.where(granted, "granted", "withdrawn"),
                    "captured_via": via_default,
                }
            )
        )
        frames.append(
            pl.DataFrame(
                {
                    "_person": person[withdraws],
                    "_second": (later[withdraws] * DAY).astype(np.int64),
                    "purpose": purpose,
                    "decision": "withdrawn",
                    "captured_via": np.where(
                        rng.random(int(withdraws.sum())) < share, channel, "privacy_centre"
                    ),
                }
            )
        )
    return pl.concat(frames).sort("_second", "_person", "purpose")


def build(world: World) -> pl.DataFrame:
    rng = world.rng("consents")
    pop = world.population
    frame = _decisions(rng, world)
    frame = frame.filter(pl.Series(keep_in_range(world, frame["_second"].to_numpy())))
    second = frame["_second"].to_numpy()
    who = frame["_person"].to_numpy()
    mobile = format_mobiles(rng, true_mobiles(rng, pop, who, second // DAY, shared_rate=0.0), 0.2)
    people = pl.DataFrame(
        {
            "mobile": mobile,
            "openid": pop.column("wechat_oa", who),
            "via": frame["captured_via"],
            "decision": frame["decision"],
        }
    )
    by_wechat = (pl.col("via") == "wechat_oa") & pl.col("openid").is_not_null()
    people = people.with_columns(  # only followers of the official account can decide there
        via=pl.when((pl.col("via") == "wechat_oa") & ~by_wechat)
        .then(pl.lit("privacy_centre"))
        .otherwise("via")
    )
    return people.select(
        consent_id=world.serial_ids("CS", np.arange(1, frame.height + 1), 12),
        mobile=pl.when(by_wechat).then(None).otherwise("mobile"),  # WeChat knows the person by OpenID
        member_card=pop.column("member_card", who),
        openid=pl.when(by_wechat).then("openid"),
        purpose=frame["purpose"],
        decision=pl.when(pl.col("via") == "sms_td")
        .then(pl.lit("TD"))
        .otherwise("decision"),  # as the SMS gateway logs it
        captured_via=pl.col("via"),
        captured_at=timestamps(world, second),
        _dir=day_strings(world, second),
    ).with_columns(_file=pl.concat_str(pl.lit("consents_"), "_dir", pl.lit(".csv")))
