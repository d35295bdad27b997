//! Offline payment: cash on delivery (order placed, money collected on
//! delivery) and cash in advance (order on hold until the money arrives).

use super::{FlowStatus, GatewayError, PaymentGateway, PaymentRequest};
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::payment::{PaymentMethodOption, PaymentStatus};

pub const CASH_ON_DELIVERY: &str = "cash_on_delivery";
pub const CASH_IN_ADVANCE: &str = "cash_in_advance";

pub struct OfflineGateway {
    /// Cash on delivery is refused above this many minor units; 0: no limit.
    pub cash_on_delivery_limit_minor: i64,
}

impl OfflineGateway {
    fn decide(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        match request.method.as_str() {
            CASH_ON_DELIVERY => {
                let limit = self.cash_on_delivery_limit_minor;
                if limit > 0 && request.amount.minor > limit {
                    return Ok(FlowStatus::Failed {
                        reason: format!(
                            "Cash on delivery is available for orders up to {}. Please choose another payment method.",
                            Money::new(limit, request.amount.currency)
                        ),
                    });
                }
                Ok(FlowStatus::Approved {
                    payment_status: PaymentStatus::Pending,
                    order_status: OrderStatus::Placed,
                })
            }
            CASH_IN_ADVANCE => Ok(FlowStatus::Approved {
                payment_status: PaymentStatus::Pending,
                order_status: OrderStatus::OnHold,
            }),
            other => Err(GatewayError::UnknownMethod(other.to_owned())),
        }
    }
}

#[async_trait::async_trait]
impl PaymentGateway for OfflineGateway {
    fn code(&self) -> &'static str {
        "offline"
    }

    fn methods(&self) -> Vec<PaymentMethodOption> {
        [
            (CASH_ON_DELIVERY, "Cash on delivery"),
            (CASH_IN_ADVANCE, "Cash in advance (bank transfer)"),
        ]
        .into_iter()
        .map(|(method, title)| PaymentMethodOption {
            gateway: self.code().into(),
            method: method.into(),
            title: title.into(),
        })
        .collect()
    }

    async fn start_flow(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        self.decide(request)
    }

    async fn flow_status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        self.decide(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use crate::domain::payment::IdempotencyKey;

    fn request(method: &str, minor: i64) -> PaymentRequest {
        PaymentRequest {
            method: method.into(),
            amount: Money::new(minor, Currency::parse("EUR").unwrap()),
            idempotency_key: IdempotencyKey::from_string("k".into()),
            reference: "cart".into(),
        }
    }

    #[test]
    fn cash_in_advance_holds_the_order() {
        let gw = OfflineGateway {
            cash_on_delivery_limit_minor: 0,
        };
        assert_eq!(
            gw.decide(&request(CASH_IN_ADVANCE, 5000)).unwrap(),
            FlowStatus::Approved {
                payment_status: PaymentStatus::Pending,
                order_status: OrderStatus::OnHold
            }
        );
    }

    #[test]
    fn cash_on_delivery_has_a_limit() {
        let gw = OfflineGateway {
            cash_on_delivery_limit_minor: 1000,
        };
        assert!(matches!(
            gw.decide(&request(CASH_ON_DELIVERY, 1000)).unwrap(),
            FlowStatus::Approved { .. }
        ));
        assert!(matches!(
            gw.decide(&request(CASH_ON_DELIVERY, 1001)).unwrap(),
            FlowStatus::Failed { .. }
        ));
        assert!(gw.decide(&request("cheque", 1)).is_err());
    }
}
