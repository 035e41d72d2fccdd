//! Recipients, devices and templates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[async_trait]
impl RecipientStore for InMemoryStore {
    async fn get(&self, id: &RecipientId) -> Result<Option<RecipientRecord>, PortError> {
        let state = self.state()?;
        Ok(state.recipients.get(id).map(|r| {
            let mut recipient = r.recipient.clone();
            recipient.devices = state.recipient_devices(id);
            RecipientRecord {
                recipient,
                preferences: r.preferences.clone(),
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        }))
    }

    async fn put(&self, recipient: &Recipient, now: DateTime<Utc>) -> Result<PutOutcome, PortError> {
        let mut state = self.state()?;
        let mut profile = recipient.clone();
        profile.devices.clear();
        match state.recipients.get_mut(&recipient.id) {
            Some(existing) => {
                existing.recipient = profile;
                existing.updated_at = now;
                Ok(PutOutcome::Replaced)
            }
            None => {
                state.recipients.insert(
                    recipient.id.clone(),
                    StoredRecipient {
                        recipient: profile,
                        preferences: None,
                        created_at: now,
                        updated_at: now,
                    },
                );
                Ok(PutOutcome::Created)
            }
        }
    }

    async fn erase(&self, id: &RecipientId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut state = self.state()?;
        if state.recipients.remove(id).is_none() {
            return Ok(false);
        }
        state.devices.retain(|_, (owner, _)| owner != id);
        for d in state.deliveries.values_mut().filter(|d| &d.recipient_id == id) {
            d.target = d.target.erased();
            if d.state.status == DeliveryStatus::Pending {
                d.state.status = DeliveryStatus::Cancelled;
            }
            d.updated_at = now;
        }
        Ok(true)
    }

    async fn put_preferences(
        &self,
        id: &RecipientId,
        preferences: &Preferences,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let Some(r) = state.recipients.get_mut(id) else { return Ok(false) };
        r.preferences = Some(preferences.clone());
        r.updated_at = now;
        Ok(true)
    }
}

#[async_trait]
impl DeviceStore for InMemoryStore {
    async fn register(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &DeviceToken,
        new_id: DeviceId,
        now: DateTime<Utc>,
    ) -> Result<DeviceRegistration, PortError> {
        let mut state = self.state()?;
        let existing = state
            .devices
            .iter()
            .find(|(_, (_, d))| d.token == *token)
            .map(|(id, (owner, _))| (*id, owner.clone()));
        let registration = match existing {
            Some((id, owner)) => {
                let entry = state.devices.get_mut(&id).expect("found above");
                entry.0 = recipient.clone();
                entry.1.active = true;
                entry.1.platform = platform;
                entry.1.registered_at = now;
                let device = entry.1.clone();
                if owner == *recipient {
                    DeviceRegistration::Existing(device)
                } else {
                    DeviceRegistration::Moved(device)
                }
            }
            None => {
                let device =
                    Device { id: new_id, platform, token: token.clone(), active: true, registered_at: now };
                state.devices.insert(new_id, (recipient.clone(), device.clone()));
                DeviceRegistration::Created(device)
            }
        };
        for id in devices_over_limit(&state.recipient_devices(recipient)) {
            if let Some((_, d)) = state.devices.get_mut(&id) {
                d.active = false;
            }
        }
        Ok(registration)
    }

    async fn list(&self, recipient: &RecipientId) -> Result<Vec<Device>, PortError> {
        Ok(self.state()?.recipient_devices(recipient))
    }

    async fn disable(&self, recipient: &RecipientId, id: DeviceId) -> Result<bool, PortError> {
        let mut state = self.state()?;
        match state.devices.get_mut(&id) {
            Some((owner, d)) if owner == recipient => {
                d.active = false;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn disable_by_id(&self, id: DeviceId) -> Result<bool, PortError> {
        let mut state = self.state()?;
        match state.devices.get_mut(&id) {
            Some((_, d)) => {
                d.active = false;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl TemplateStore for InMemoryStore {
    async fn create(&self, template: &TemplateRecord) -> Result<bool, PortError> {
        let mut state = self.state()?;
        let exists = state.templates.values().any(|(t, _)| {
            t.key == template.key && t.locale == template.locale && t.channel == template.channel
        });
        if exists {
            return Ok(false);
        }
        let version = TemplateVersion {
            version: template.version,
            title: template.title.clone(),
            body: template.body.clone(),
            created_at: template.updated_at,
        };
        state.templates.insert(template.id, (template.clone(), vec![version]));
        Ok(true)
    }

    async fn get(&self, id: TemplateId) -> Result<Option<TemplateRecord>, PortError> {
        Ok(self.state()?.templates.get(&id).map(|(t, _)| t.clone()))
    }

    async fn search(&self, filter: &TemplateFilter, limit: usize) -> Result<Vec<TemplateRecord>, PortError> {
        let state = self.state()?;
        let mut rows: Vec<TemplateRecord> = state
            .templates
            .values()
            .map(|(t, _)| t)
            .filter(|t| filter.key.as_ref().is_none_or(|k| *k == t.key))
            .filter(|t| filter.channel.is_none_or(|c| c == t.channel))
            .filter(|t| filter.locale.as_ref().is_none_or(|l| *l == t.locale))
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            (a.key.as_str(), &a.locale, a.channel).cmp(&(b.key.as_str(), &b.locale, b.channel))
        });
        rows.truncate(limit);
        Ok(rows)
    }

    async fn update(
        &self,
        id: TemplateId,
        title: Option<&str>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let mut state = self.state()?;
        let Some((t, versions)) = state.templates.get_mut(&id) else { return Ok(None) };
        t.version += 1;
        t.title = title.map(str::to_owned);
        t.body = body.to_owned();
        t.updated_at = now;
        versions.push(TemplateVersion {
            version: t.version,
            title: t.title.clone(),
            body: t.body.clone(),
            created_at: now,
        });
        Ok(Some(t.clone()))
    }

    async fn delete(&self, id: TemplateId) -> Result<bool, PortError> {
        Ok(self.state()?.templates.remove(&id).is_some())
    }

    async fn versions(&self, id: TemplateId) -> Result<Option<Vec<TemplateVersion>>, PortError> {
        Ok(self.state()?.templates.get(&id).map(|(_, v)| v.clone()))
    }

    async fn find(
        &self,
        key: &TemplateKey,
        locale: &Locale,
        channel: Channel,
    ) -> Result<Option<TemplateRecord>, PortError> {
        let state = self.state()?;
        Ok(state
            .templates
            .values()
            .map(|(t, _)| t)
            .find(|t| t.key == *key && t.locale == *locale && t.channel == channel)
            .cloned())
    }
}
