//! The label sets, one struct per shape. Values are `&'static str` from closed sets, except
//! the HTTP route, a template of the router's own routes (or `unmatched`).

use hub_application::ports::SendVerdict;
use hub_domain::{Channel, Kind};
use prometheus_client::encoding::EncodeLabelSet;

/// `route`, `method`, `status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct HttpLabels {
    pub(super) route: String,
    pub(super) method: &'static str,
    pub(super) status: u16,
}

/// `kind`, `outcome`, `code`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SendLabels {
    pub(super) kind: &'static str,
    pub(super) outcome: &'static str,
    pub(super) code: &'static str,
}

impl SendLabels {
    pub(super) fn new(kind: Kind, verdict: SendVerdict) -> Self {
        SendLabels { kind: kind.as_str(), outcome: verdict.outcome(), code: verdict.code() }
    }
}

/// `source`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReplayLabels {
    pub(super) source: &'static str,
}

/// `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ChannelLabels {
    pub(super) channel: &'static str,
}

impl ChannelLabels {
    pub(super) fn new(channel: Channel) -> Self {
        ChannelLabels { channel: channel.as_str() }
    }
}

/// `channel`, `state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct DeliveryLabels {
    pub(super) channel: &'static str,
    pub(super) state: &'static str,
}

/// `channel`, `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) channel: &'static str,
    pub(super) outcome: &'static str,
}

/// `channel`, `cause`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct DuplicateLabels {
    pub(super) channel: &'static str,
    pub(super) cause: &'static str,
}

/// `gauge`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct GaugeLabels {
    pub(super) gauge: &'static str,
}
