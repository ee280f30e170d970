"""Import every domain model so that ``Base.metadata`` is complete (for Alembic)."""

from domain.access_log import AccessLogEntry
from domain.affiliate_models import Affiliate, Commission, Payout
from domain.api_keys import ApiKey
from domain.audit import AuditEntry
from domain.automation_models import Automation, AutomationOccasion
from domain.campaign_models import (
    CampaignEvent,
    CampaignRecipient,
    MarketingMessage,
    MessageCampaign,
    SendPace,
    Undeliverable,
)
from domain.consents import Consent
from domain.customers import Customer
from domain.data_requests import DataRequest
from domain.earning import Campaign
from domain.holds import Hold
from domain.idempotency import IdempotentRequest
from domain.ledger import LedgerEntry
from domain.notices import PrivacyNotice
from domain.notifications import Notification
from domain.rewards import Redemption, Reward
from domain.rules import Setting
from domain.sales import Order, OrderLine, OrderReturn, Product
from domain.sign_ins import SignInFailure
from domain.simulator_history import SimulatorTurn
from domain.staff_sessions import StaffSession
from domain.staff_tokens import RefreshToken
from domain.suppression import Suppression
from domain.sync_runs import SyncRequest, SyncRun
from domain.system import Heartbeat
from domain.users import StaffUser

__all__ = [
    "AccessLogEntry",
    "Affiliate",
    "ApiKey",
    "AuditEntry",
    "Automation",
    "AutomationOccasion",
    "Campaign",
    "CampaignEvent",
    "CampaignRecipient",
    "Commission",
    "Consent",
    "Customer",
    "DataRequest",
    "Heartbeat",
    "Hold",
    "IdempotentRequest",
    "LedgerEntry",
    "MarketingMessage",
    "MessageCampaign",
    "Notification",
    "Order",
    "OrderLine",
    "OrderReturn",
    "Payout",
    "PrivacyNotice",
    "Product",
    "Redemption",
    "RefreshToken",
    "Reward",
    "SendPace",
    "Setting",
    "SignInFailure",
    "SimulatorTurn",
    "StaffSession",
    "StaffUser",
    "Suppression",
    "SyncRequest",
    "SyncRun",
    "Undeliverable",
]
