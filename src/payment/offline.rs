//! Offline payment: cash on delivery (order placed, money collected on
//! delivery) and cash in advance (order on hold until the money arrives).
//! Nothing leaves the shop, so every call answers at once.

use super::{GatewayError, PaymentGateway};
use crate::domain::fulfilment::MoneyArrives;
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderStatus};
use crate::domain::payment::{
    BankAccount, FlowStatus, MoneyOperation, PaymentInstructions, PaymentMethodOption,
    PaymentRequest, PaymentStart, PaymentStatus, Settlement,
};

pub const CASH_ON_DELIVERY: &str = "cash_on_delivery";
pub const CASH_IN_ADVANCE: &str = "cash_in_advance";

pub struct OfflineGateway {
    /// Cash on delivery is refused above this many minor units; 0: no limit.
    pub cash_on_delivery_limit_minor: i64,
    /// Where transfers in advance go; without one, cash in advance is not
    /// offered.
    pub bank_account: Option<BankAccount>,
    /// How long a transfer in advance may take.
    pub cash_in_advance_days: i64,
}

impl OfflineGateway {
    fn known(&self, request: &PaymentRequest) -> Result<(), GatewayError> {
        match request.method.as_str() {
            CASH_ON_DELIVERY => Ok(()),
            CASH_IN_ADVANCE if self.bank_account.is_some() => Ok(()),
            other => Err(GatewayError::Refused(format!(
                "The payment method '{other}' is not offered."
            ))),
        }
    }

    fn status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        self.known(request)?;
        if request.method == CASH_IN_ADVANCE {
            return Ok(FlowStatus::Approved(Settlement {
                payment_status: PaymentStatus::Pending,
                order_status: OrderStatus::OnHold,
            }));
        }
        let limit = self.cash_on_delivery_limit_minor;
        if limit > 0 && request.amount.minor > limit {
            return Ok(FlowStatus::Failed {
                reason: format!(
                    "Cash on delivery is available for orders up to {}. Please choose another payment method.",
                    Money::new(limit, request.amount.currency)
                ),
            });
        }
        Ok(FlowStatus::Approved(Settlement {
            payment_status: PaymentStatus::Pending,
            order_status: OrderStatus::Placed,
        }))
    }
}

#[async_trait::async_trait]
impl PaymentGateway for OfflineGateway {
    fn code(&self) -> &'static str {
        "offline"
    }

    fn money_arrives(&self, method: &str) -> MoneyArrives {
        match method {
            CASH_IN_ADVANCE => MoneyArrives::TransferInAdvance,
            _ => MoneyArrives::OnDelivery,
        }
    }

    /// Nobody outside the shop knows of a cash payment.
    fn held_outside(&self) -> bool {
        false
    }

    fn methods(&self) -> Vec<PaymentMethodOption> {
        [
            (CASH_ON_DELIVERY, "Cash on delivery"),
            (CASH_IN_ADVANCE, "Cash in advance (bank transfer)"),
        ]
        .into_iter()
        .filter(|(method, _)| *method != CASH_IN_ADVANCE || self.bank_account.is_some())
        .map(|(method, title)| PaymentMethodOption {
            gateway: self.code().into(),
            method: method.into(),
            title: title.into(),
        })
        .collect()
    }

    async fn start_flow(&self, request: &PaymentRequest) -> Result<PaymentStart, GatewayError> {
        self.known(request)?;
        Ok(PaymentStart {
            early_place_order: false,
            provider_reference: None,
        })
    }

    async fn flow_status(&self, request: &PaymentRequest) -> Result<FlowStatus, GatewayError> {
        self.status(request)
    }

    async fn confirm(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn cancel(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The money was handed over on delivery.
    async fn capture(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Cash is paid back by hand; nothing to tell anyone.
    async fn refund(&self, _request: &PaymentRequest) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The money is handed over at the door (or arrived by transfer):
    /// recording it is the shop's own business, no provider holds it.
    async fn capture_amount(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Nothing was reserved anywhere, so nothing is to be given up.
    async fn release(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Paid back by hand or by the shop's own transfer, outside the system.
    async fn refund_amount(&self, _op: &MoneyOperation) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Cash in advance: the bank transfer; cash on delivery asks nothing
    /// before the delivery.
    fn instructions(&self, order: &Order) -> Option<PaymentInstructions> {
        let method = order.payment.as_ref()?.method.as_str();
        let account = self.bank_account.clone()?;
        (method == CASH_IN_ADVANCE).then_some(PaymentInstructions::TransferInAdvance {
            account,
            days: self.cash_in_advance_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use crate::domain::payment::IdempotencyKey;

    fn request(method: &str, minor: i64) -> PaymentRequest {
        PaymentRequest {
            gateway: "offline".into(),
            method: method.into(),
            amount: Money::new(minor, Currency::parse("EUR").unwrap()),
            idempotency_key: IdempotencyKey::from_string("k".into()),
            reference: "process".into(),
        }
    }

    #[test]
    fn cash_in_advance_holds_the_order() {
        let gw = OfflineGateway {
            cash_on_delivery_limit_minor: 0,
            bank_account: Some(BankAccount {
                holder: "Shop".into(),
                iban: "DE02120300000000202051".into(),
                bic: "BYLADEM1001".into(),
            }),
            cash_in_advance_days: 14,
        };
        assert_eq!(
            gw.status(&request(CASH_IN_ADVANCE, 5000)).unwrap(),
            FlowStatus::Approved(Settlement {
                payment_status: PaymentStatus::Pending,
                order_status: OrderStatus::OnHold
            })
        );
    }

    #[test]
    fn cash_on_delivery_has_a_limit() {
        let gw = OfflineGateway {
            cash_on_delivery_limit_minor: 1000,
            bank_account: None,
            cash_in_advance_days: 14,
        };
        assert!(matches!(
            gw.status(&request(CASH_ON_DELIVERY, 1000)).unwrap(),
            FlowStatus::Approved(_)
        ));
        assert!(matches!(
            gw.status(&request(CASH_ON_DELIVERY, 1001)).unwrap(),
            FlowStatus::Failed { .. }
        ));
        assert!(gw.status(&request("cheque", 1)).is_err());
    }

    #[tokio::test]
    async fn money_operations_need_nobody() {
        let gw = OfflineGateway {
            cash_on_delivery_limit_minor: 0,
            bank_account: Some(BankAccount {
                holder: "Shop".into(),
                iban: "DE02120300000000202051".into(),
                bic: "BYLADEM1001".into(),
            }),
            cash_in_advance_days: 14,
        };
        let op = MoneyOperation {
            provider_reference: None,
            key: "op-1".into(),
            amount: Money::new(500, Currency::parse("EUR").unwrap()),
        };
        assert!(gw.capture_amount(&op).await.is_ok());
        assert!(gw.release(&op).await.is_ok());
        assert!(gw.refund_amount(&op).await.is_ok());
    }
}
